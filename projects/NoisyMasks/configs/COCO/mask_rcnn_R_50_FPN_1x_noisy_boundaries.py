# COCO Mask R-CNN R50-FPN with Noisy Boundaries' noise-tolerant mask head and boundary-preserving BCE (Wang et al.,
# CVPR 2022, as the authors' configs/noisyboundaries/coco train it).
from noisy_seg.config import use_noisy_roi_heads

from .mask_rcnn_R_50_FPN_1x import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

use_noisy_roi_heads(model, mask_loss="bpm_bce", noise_tolerant_mask_head=True)
train.output_dir = "output/NoisyMasks/coco/noisy_boundaries"
