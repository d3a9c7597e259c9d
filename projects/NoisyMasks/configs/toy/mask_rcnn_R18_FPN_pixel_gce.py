# GCE (Zhang & Sabuncu 2018) on mask pixels, at the paper's recommended q = 0.7.
from noisy_seg.config import use_noisy_roi_heads

from .mask_rcnn_R18_FPN_bce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

use_noisy_roi_heads(model, mask_loss="pixel_gce", mask_loss_kwargs=dict(q=0.7))
train.output_dir = "output/NoisyMasks/toy/pixel_gce"
