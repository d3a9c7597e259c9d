# Noisy Boundaries' boundary-preserving BCE on the stock head (no coarse branch): the loss without the architecture.
from noisy_seg.config import use_noisy_roi_heads

from .mask_rcnn_R18_FPN_bce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

use_noisy_roi_heads(model, mask_loss="bpm_bce")
train.output_dir = "output/NoisyMasks/toy/bpm_bce"
