"""LazyConfig helpers: switch a detectron2 model config to noisy_seg's heads in one call."""
from __future__ import annotations

from typing import Optional

from ..modeling import NoisyFastRCNNOutputLayers, NoisyStandardROIHeads


def use_noisy_roi_heads(model, cls_loss: str = "ce", cls_loss_kwargs: Optional[dict] = None,
                        loss_switch_iter: int = 0, cls_agnostic_mask: bool = False):
    """Turn `model.roi_heads` of a StandardROIHeads LazyConfig into NoisyStandardROIHeads with the
    given box classification loss. `cls_agnostic_mask` gives the mask head one output channel (detectron2's
    class-agnostic mask), so a wrong class label cannot pick the mask channel. Returns `model` (edited in place)."""
    model.roi_heads._target_ = NoisyStandardROIHeads
    if cls_agnostic_mask:
        model.roi_heads.mask_head.num_classes = 1
    predictor = model.roi_heads.box_predictor
    predictor._target_ = NoisyFastRCNNOutputLayers
    predictor.cls_loss = cls_loss
    predictor.cls_loss_kwargs = dict(cls_loss_kwargs or {})
    predictor.loss_switch_iter = loss_switch_iter
    return model
