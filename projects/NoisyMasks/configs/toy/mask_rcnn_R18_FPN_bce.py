# Toy-shapes Mask R-CNN whose mask head takes its loss by name (NoisyMaskRCNNConvUpsampleHead); every mask-loss
# variant of this project builds on it. "bce" is detectron2's own mask loss (the stock head's losses exactly), plus
# the mask memorization curve under spatial noise. Under noise: dataloader.train.mapper.noise=coco_n_medium.
# The evaluation adds Boundary AP ("boundary/AP") to COCO's mask AP: outlines are what spatial noise corrupts.
from detectron2.config import LazyConfig

from noisy_seg.config import use_noisy_roi_heads
from noisy_seg.evaluation import BoundaryAPEvaluator

dataloader, lr_multiplier, model, optimizer, train = LazyConfig.load_rel(
    "../../../NoisyClassLabels/configs/toy/mask_rcnn_R18_FPN_ce.py",
    ("dataloader", "lr_multiplier", "model", "optimizer", "train"),
)

use_noisy_roi_heads(model, mask_loss="bce")
dataloader.evaluator._target_ = BoundaryAPEvaluator
train.output_dir = "output/NoisyMasks/toy/bce"
