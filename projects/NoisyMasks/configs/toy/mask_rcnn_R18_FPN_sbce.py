# Symmetric BCE on mask pixels (Wang et al. 2019's SCE on each pixel's two classes), with the box recipe's alpha /
# beta (Yang et al.'s released 1.0 / 0.1): none were published for masks.
from noisy_seg.config import use_noisy_roi_heads

from .mask_rcnn_R18_FPN_bce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

use_noisy_roi_heads(model, mask_loss="sbce", mask_loss_kwargs=dict(alpha=1.0, beta=0.1))
train.output_dir = "output/NoisyMasks/toy/sbce"
