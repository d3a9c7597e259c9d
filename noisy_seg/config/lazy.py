"""LazyConfig helpers: switch a detectron2 model config to noisy_seg's heads in one call."""

from __future__ import annotations

from typing import Optional

from detectron2.modeling.roi_heads import (
    CascadeROIHeads,
    FastRCNNOutputLayers,
    MaskRCNNConvUpsampleHead,
    Res5ROIHeads,
    StandardROIHeads,
)
from detectron2.utils.registry import locate

from ..modeling import (
    NoisyCascadeROIHeads,
    NoisyFastRCNNOutputLayers,
    NoisyMaskRCNNConvUpsampleHead,
    NoisyRes5ROIHeads,
    NoisyStandardROIHeads,
    NoiseTolerantMaskHead,
    check_mask_loss,
)

# detectron2's ROI-head families: stock class -> (ours, the key of its box predictor(s))
_FAMILIES = {
    StandardROIHeads: (NoisyStandardROIHeads, "box_predictor"),
    CascadeROIHeads: (NoisyCascadeROIHeads, "box_predictors"),
    Res5ROIHeads: (NoisyRes5ROIHeads, "box_predictor"),
}


def use_noisy_roi_heads(
    model,
    cls_loss: str = "ce",
    cls_loss_kwargs: Optional[dict] = None,
    loss_switch_iter: int = 0,
    cls_agnostic_mask: bool = False,
    mask_loss: Optional[str] = None,
    mask_loss_kwargs: Optional[dict] = None,
    mask_loss_switch_iter: int = 0,
    noise_tolerant_mask_head: bool = False,
):
    """Give the box predictor of an R-CNN LazyConfig `model` the box classification loss `cls_loss`
    (`NoisyFastRCNNOutputLayers`): StandardROIHeads, CascadeROIHeads (every stage's predictor) and Res5ROIHeads
    (C4). detectron2's own head class becomes ours (`NoisyStandardROIHeads`, `NoisyCascadeROIHeads`,
    `NoisyRes5ROIHeads`); a subclass of one (PointRend's, say) keeps its class and only its predictors change.
    Calling it again sets the loss again. `cls_agnostic_mask` gives the mask head one output channel (detectron2's
    class-agnostic mask), so a wrong class label cannot pick the mask channel.

    mask_loss: the mask head's loss (a registered mask loss: "bce", "sbce", "boundary_bce", ...; see
    `NoisyMaskRCNNConvUpsampleHead`), with `mask_loss_kwargs`, from iteration `mask_loss_switch_iter` on (the stock
    BCE before); detectron2's MaskRCNNConvUpsampleHead becomes `NoisyMaskRCNNConvUpsampleHead`, or Noisy Boundaries'
    `NoiseTolerantMaskHead` with noise_tolerant_mask_head=True. None (the default) leaves the mask head alone.
    Returns `model` (edited in place); one ValueError for another head type, a box predictor other than
    FastRCNNOutputLayers, a loss the box classifier or the mask head cannot use, or a mask option on a model
    without a mask head."""
    NoisyFastRCNNOutputLayers.check_cls_loss(cls_loss)
    if mask_loss is None and noise_tolerant_mask_head:
        mask_loss = "bce"
    if mask_loss is not None:
        check_mask_loss(mask_loss, mask_loss_kwargs)  # the band's bound on the RoI mask is checked at build
    heads = model.get("roi_heads")
    target = _target(heads)
    stock = next((c for c in getattr(target, "__mro__", ()) if c in _FAMILIES), None)  # cascade before standard
    if stock is None:
        supported = ", ".join(c.__name__ for c in _FAMILIES)
        raise ValueError(
            f"use_noisy_roi_heads supports the ROI heads {supported} (and their subclasses); "
            f"model.roi_heads is {_name(target)}"
        )
    noisy, key = _FAMILIES[stock]
    if target is stock:
        heads._target_ = noisy
    for predictor in heads[key] if key == "box_predictors" else [heads[key]]:
        _use_noisy_predictor(predictor, cls_loss, cls_loss_kwargs, loss_switch_iter)
    if cls_agnostic_mask:
        if heads.get("mask_head") is None:
            raise ValueError("cls_agnostic_mask=True needs a mask head; model.roi_heads has none")
        heads.mask_head.num_classes = 1
    if mask_loss is not None:
        _use_noisy_mask_head(heads, mask_loss, mask_loss_kwargs, mask_loss_switch_iter, noise_tolerant_mask_head)
    return model


def _use_noisy_mask_head(heads, mask_loss, mask_loss_kwargs, switch_iter, noise_tolerant):
    mask_head = heads.get("mask_head")
    if mask_head is None or not heads.get("mask_on", True):
        raise ValueError(f"mask_loss={mask_loss!r} needs a mask head; model.roi_heads has none (a box-only model)")
    target = _target(mask_head)
    if not (isinstance(target, type) and issubclass(target, MaskRCNNConvUpsampleHead)):
        raise ValueError(f"mask_loss replaces detectron2's MaskRCNNConvUpsampleHead; the mask head is {_name(target)}")
    if noise_tolerant:
        mask_head._target_ = NoiseTolerantMaskHead
    elif target in (MaskRCNNConvUpsampleHead, NoiseTolerantMaskHead):
        mask_head._target_ = NoisyMaskRCNNConvUpsampleHead
    mask_head.mask_loss = mask_loss
    mask_head.mask_loss_kwargs = dict(mask_loss_kwargs or {})
    mask_head.loss_switch_iter = switch_iter


def _use_noisy_predictor(predictor, cls_loss, cls_loss_kwargs, loss_switch_iter):
    target = _target(predictor)
    if target is FastRCNNOutputLayers:
        predictor._target_ = NoisyFastRCNNOutputLayers
    elif not (isinstance(target, type) and issubclass(target, NoisyFastRCNNOutputLayers)):
        raise ValueError(
            f"use_noisy_roi_heads replaces detectron2's FastRCNNOutputLayers; the box predictor is {_name(target)}"
        )
    predictor.cls_loss = cls_loss
    predictor.cls_loss_kwargs = dict(cls_loss_kwargs or {})
    predictor.loss_switch_iter = loss_switch_iter


def _target(node):
    """The class a LazyCall node builds (a dotted name once the config went through yaml); None if no node."""
    target = node.get("_target_") if hasattr(node, "get") else None
    return locate(target) if isinstance(target, str) else target


def _name(target) -> str:
    return "missing" if target is None else getattr(target, "__name__", repr(target))
