# Active-passive NCE+RCE (Ma et al. 2020), alpha=beta=1.
from .mask_rcnn_R_50_FPN_ce import dataloader, lr_multiplier, model, optimizer, train

model.roi_heads.box_predictor.cls_loss = "nce_rce"
model.roi_heads.box_predictor.cls_loss_kwargs = dict(alpha=1.0, beta=1.0)
train.output_dir = "output/NoisyClassLabels/cityscapes/nce_rce"
