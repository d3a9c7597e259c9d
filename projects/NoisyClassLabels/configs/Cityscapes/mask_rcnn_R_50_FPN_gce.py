# Generalized CE (Zhang & Sabuncu 2018), with Yang et al.'s released value q=0.3 (gce has no default:
# docs/losses.md).
from .mask_rcnn_R_50_FPN_ce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.roi_heads.box_predictor.cls_loss = "gce"
model.roi_heads.box_predictor.cls_loss_kwargs = dict(q=0.3)
train.output_dir = "output/NoisyClassLabels/cityscapes/gce"
