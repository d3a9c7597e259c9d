# Mask R-CNN R50-FPN 1x on COCO 2017 with detectron2's defaults (ImageNet init from the model zoo).
# 1x = 90000 iters * 16 images/iter / 118000 images/ep = ~12.2 epochs.
from ..common.data.coco import dataloader
from ..common.models.mask_rcnn_fpn import model
from ..common.optim import SGD as optimizer
from ..common.schedule import lr_multiplier_1x as lr_multiplier
from ..common.train import train

model.backbone.bottom_up.freeze_at = 2
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
# detectron2's model-zoo ImageNet weights are a pickle: loading one runs the code it holds, so noisy_seg
# loads it only after you opt in on the command line with train.allow_pickle_checkpoints=True.
train.max_iter = 90000
train.output_dir = "output/coco/mask_rcnn_R_50_FPN_1x"
