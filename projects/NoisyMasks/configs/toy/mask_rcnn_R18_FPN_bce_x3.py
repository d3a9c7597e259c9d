# BCE with the mask loss weighted 3x: the scale the boundary-preserving map gives BCE on average (its per-RoI mean is
# 3), so that a gain of bpm_bce can be told from a larger mask-loss weight.
from .mask_rcnn_R18_FPN_bce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.roi_heads.mask_head.loss_weight = 3.0
train.output_dir = "output/NoisyMasks/toy/bce_x3"
