# Cascade Mask R-CNN on the toy shapes: the toy recipe (mask_rcnn_R18_FPN_ce.py: data, narrow backbone, RPN, mask
# head, schedule) with detectron2's three cascade box stages (common/models/cascade_rcnn.py: IoU 0.5 / 0.6 / 0.7,
# class-agnostic box regression) at the toy box head's width; every stage's predictor is noisy_seg's, plain CE.
# A loss for all stages: use_noisy_roi_heads(model, cls_loss=...). Not tuned for the toy data: no results yet.
from detectron2 import model_zoo
from detectron2.layers import ShapeSpec

from noisy_seg.config import use_noisy_roi_heads

from ..common.models.mask_rcnn_R18_FPN_tiny import BOX_FC, CHANNELS
from .mask_rcnn_R18_FPN_ce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

_cascade = model_zoo.get_config("common/models/cascade_rcnn.py").model.roi_heads
for _head in _cascade.box_heads:
    _head.update(input_shape=ShapeSpec(channels=CHANNELS, height=7, width=7), fc_dims=[BOX_FC, BOX_FC])
for _predictor in _cascade.box_predictors:
    _predictor.input_shape = ShapeSpec(channels=BOX_FC)
for _key in ("box_head", "box_predictor", "proposal_matcher"):  # one per stage instead
    model.roi_heads.pop(_key)
model.roi_heads.update({k: _cascade[k] for k in ("_target_", "box_heads", "box_predictors", "proposal_matchers")})
use_noisy_roi_heads(model, cls_loss="ce")

train.output_dir = "output/toy/cascade_mask_rcnn_R18_FPN_ce"
