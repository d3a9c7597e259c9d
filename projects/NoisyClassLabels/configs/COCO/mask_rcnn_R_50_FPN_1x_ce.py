# COCO Mask R-CNN R50-FPN with NoisyStandardROIHeads; every loss variant of this project builds on it.
# Under noise: add e.g. dataloader.train.mapper.noise=sym40 on the command line.
from detectron2.config import LazyConfig

from noisy_seg.config import use_noisy_roi_heads

dataloader, lr_multiplier, model, optimizer, train = LazyConfig.load_rel(
    "../../../../configs/COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.py",
    ("dataloader", "lr_multiplier", "model", "optimizer", "train"),
)

use_noisy_roi_heads(model, cls_loss="ce")
train.output_dir = "output/NoisyClassLabels/coco/ce"
