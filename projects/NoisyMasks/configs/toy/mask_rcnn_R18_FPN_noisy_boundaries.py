# Noisy Boundaries (Wang et al., CVPR 2022): the noise-tolerant mask head (a coarse branch fused with the fine one,
# each with its loss) trained with the boundary-preserving-map BCE, as the authors' configs train it.
from noisy_seg.config import use_noisy_roi_heads

from .mask_rcnn_R18_FPN_bce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

use_noisy_roi_heads(model, mask_loss="bpm_bce", noise_tolerant_mask_head=True)
train.output_dir = "output/NoisyMasks/toy/noisy_boundaries"
