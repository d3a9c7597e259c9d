"""LazyConfig helpers: switch a detectron2 model config to noisy_seg's heads in one call."""
from __future__ import annotations

from typing import Optional

from ..modeling import NoisyFastRCNNOutputLayers, NoisyStandardROIHeads


def use_noisy_roi_heads(model, cls_loss: str = "ce", cls_loss_kwargs: Optional[dict] = None,
                        loss_switch_iter: int = 0, cls_agnostic_mask: bool = False):
    """Turn `model.roi_heads` of a StandardROIHeads LazyConfig into NoisyStandardROIHeads with the
    given box classification loss. Returns `model` (edited in place)."""
    model.roi_heads._target_ = NoisyStandardROIHeads
    model.roi_heads.cls_agnostic_mask = cls_agnostic_mask
    predictor = model.roi_heads.box_predictor
    predictor._target_ = NoisyFastRCNNOutputLayers
    predictor.cls_loss = cls_loss
    predictor.cls_loss_kwargs = dict(cls_loss_kwargs or {})
    predictor.loss_switch_iter = loss_switch_iter
    return model
