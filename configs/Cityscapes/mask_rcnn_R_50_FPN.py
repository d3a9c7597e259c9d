# Mask R-CNN R50-FPN on Cityscapes fine, detectron2's Cityscapes recipe with ImageNet init:
# 24000 iters * 8 images/iter / 2975 images/ep = ~64 epochs, x0.1 at 18000 (75%), 1000-iter warmup.
# Yang et al.'s released Cityscapes configs (LNCIS, configs/cityscapes/mask_rcnn_r50_fpn_1x_cityscapes*.py: 8 epochs
# of the set repeated 8x, step=[7], warmup_iters=500) step at 87.5%: for theirs, add to the command line
#     lr_multiplier.scheduler.milestones=[21000]
# (in units of this 24000-iteration schedule, so it stretches with a train.max_iter override like the default).
from ..common.data.cityscapes import dataloader
from ..common.models.mask_rcnn_fpn import model
from ..common.optim import SGD as optimizer
from ..common.schedule import step_schedule
from ..common.train import train

MAX_ITER = 24000

model.backbone.bottom_up.freeze_at = 2
model.roi_heads.num_classes = 8
optimizer.lr = 0.01
lr_multiplier = step_schedule(MAX_ITER, steps=(18000,), warmup_iters=1000)

train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
# detectron2's model-zoo ImageNet weights are a pickle: loading one runs the code it holds, so noisy_seg
# loads it only after you opt in on the command line with train.allow_pickle_checkpoints=True.
train.max_iter = MAX_ITER
train.eval_period = 8000
train.output_dir = "output/cityscapes/mask_rcnn_R_50_FPN"
