# Stage 2: the combination loss (CE for foreground-background, RCE for foreground-instance) for the
# second half, resumed from stage 1's final checkpoint with iteration, optimizer and LR schedule.
# floored_ce: CE and RCE exactly as Yang et al.'s released code computes them (floored one-hot, p clamped at 1e-7).
from .stage1_ce import dataloader, lr_multiplier, model, optimizer, train

model.roi_heads.box_predictor.cls_loss = "combination"
model.roi_heads.box_predictor.cls_loss_kwargs = dict(ce_weight=1.0, rce_weight=1.0, floored_ce=True)
train.resume_from = train.output_dir + "/model_final.pth"
train.stop_iter = None
train.output_dir = "output/NoisyClassLabels/coco/stage2_combination"
