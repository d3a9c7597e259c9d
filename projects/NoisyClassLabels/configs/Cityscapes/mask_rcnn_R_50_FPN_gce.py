# Generalized CE (Zhang & Sabuncu 2018); seed 000's default q=0.3.
from .mask_rcnn_R_50_FPN_ce import dataloader, lr_multiplier, model, optimizer, train

model.roi_heads.box_predictor.cls_loss = "gce"
model.roi_heads.box_predictor.cls_loss_kwargs = dict(q=0.3)
train.output_dir = "output/NoisyClassLabels/cityscapes/gce"
