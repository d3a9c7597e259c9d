# BCE + per-RoI Dice (weights 1 / 1).
from noisy_seg.config import use_noisy_roi_heads

from .mask_rcnn_R18_FPN_bce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

use_noisy_roi_heads(model, mask_loss="dice_bce", mask_loss_kwargs=dict(bce_weight=1.0, dice_weight=1.0))
train.output_dir = "output/NoisyMasks/toy/dice_bce"
