# BCE that ignores the pixels within 2 image pixels of the annotated boundary (where COCO-N's dilate / erode / jitter
# / simplify move it), turned into RoI-mask pixels per RoI.
from noisy_seg.config import use_noisy_roi_heads

from .mask_rcnn_R18_FPN_bce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

use_noisy_roi_heads(
    model, mask_loss="boundary_bce", mask_loss_kwargs=dict(band_width=2.0, band_unit="image", band_weight=0.0)
)
train.output_dir = "output/NoisyMasks/toy/boundary_bce"
