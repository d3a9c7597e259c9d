# Hard bootstrapping (Reed et al. 2015) on mask pixels: BCE against 0.8 * mask + 0.2 * the predicted binary mask.
from noisy_seg.config import use_noisy_roi_heads

from .mask_rcnn_R18_FPN_bce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

use_noisy_roi_heads(model, mask_loss="bootstrap_hard", mask_loss_kwargs=dict(beta=0.8))
train.output_dir = "output/NoisyMasks/toy/bootstrap_hard"
