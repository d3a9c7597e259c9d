# Noisy Boundaries' noise-tolerant head (the coarse branch) trained with plain BCE: the architecture without the loss.
from noisy_seg.config import use_noisy_roi_heads

from .mask_rcnn_R18_FPN_bce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

use_noisy_roi_heads(model, mask_loss="bce", noise_tolerant_mask_head=True)
train.output_dir = "output/NoisyMasks/toy/noise_tolerant_bce"
