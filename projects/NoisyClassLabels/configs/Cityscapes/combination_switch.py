# Stage-wise training in one run: CE until half of the schedule, the combination loss after.
# floored_ce: CE and RCE exactly as Yang et al.'s released code computes them (floored one-hot, p clamped at 1e-7).
from noisy_seg.config import fraction_of_max_iter

from .mask_rcnn_R_50_FPN_ce import dataloader, lr_multiplier, model, optimizer, train

model.roi_heads.box_predictor.cls_loss = "combination"
model.roi_heads.box_predictor.cls_loss_kwargs = dict(ce_weight=1.0, rce_weight=1.0, floored_ce=True)
model.roi_heads.box_predictor.loss_switch_iter = fraction_of_max_iter(0.5)  # follows train.max_iter overrides
train.output_dir = "output/NoisyClassLabels/cityscapes/combination_switch"
