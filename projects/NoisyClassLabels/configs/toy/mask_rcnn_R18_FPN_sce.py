# Symmetric CE (Wang et al. 2019) on the whole box classifier, with Yang et al.'s released values alpha=1.0, beta=0.1
# (sce has no default: docs/losses.md).
# floored_ce: CE and RCE exactly as Yang et al.'s released code computes them (floored one-hot, p clamped at 1e-7).
from .mask_rcnn_R18_FPN_ce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.roi_heads.box_predictor.cls_loss = "sce"
model.roi_heads.box_predictor.cls_loss_kwargs = dict(alpha=1.0, beta=0.1, floored_ce=True)
train.output_dir = "output/NoisyClassLabels/toy/sce"
