"""Box predictor whose classification loss is chosen by name (Yang et al. 2020 and robust losses)."""
from __future__ import annotations

from typing import Optional

import torch

from detectron2.config import configurable
from detectron2.layers import cat
from detectron2.modeling.roi_heads import FastRCNNOutputLayers
from detectron2.utils.events import get_event_storage

from ..losses import available_losses, build_loss, loss_spec
from .memorization import MemorizationCounter




def _current_iter() -> Optional[int]:
    try:
        return get_event_storage().iter
    except AssertionError:  # called outside a trainer (no event storage)
        return None


class NoisyFastRCNNOutputLayers(FastRCNNOutputLayers):
    """`FastRCNNOutputLayers` with a configurable classification loss.

    Args (in addition to FastRCNNOutputLayers'):
        cls_loss: a registered loss name (`noisy_seg.losses.available_losses()`): "ce", "sce", "gce",
            "nce_rce", "combination", ... With "ce" the losses equal the stock layer's exactly.
        cls_loss_kwargs: keyword arguments of that loss. `bg_index` is filled in (= num_classes) for
            losses that declare they need it (`loss_spec(name).needs_bg_index`); a dense-only loss is refused.
        loss_switch_iter: plain CE before this training iteration, `cls_loss` from it on (one-run
            stage-wise training). 0 uses `cls_loss` from the start.
    Box regression is unchanged.
    """

    @configurable
    def __init__(self, *args, cls_loss: str = "ce", cls_loss_kwargs: Optional[dict] = None,
                 loss_switch_iter: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_cls_loss(cls_loss, cls_loss_kwargs, loss_switch_iter)

    @classmethod
    def from_stock(cls, predictor: FastRCNNOutputLayers, cfg) -> "NoisyFastRCNNOutputLayers":
        """The stock predictor detectron2 just built, turned into this class in place with the loss of the yacs
        `cfg`: its layers are not built again, so the weights and the global RNG stream stay exactly stock."""
        predictor.__class__ = cls
        predictor._init_cls_loss(**cls._loss_options(cfg))
        return predictor

    def _init_cls_loss(self, cls_loss: str, cls_loss_kwargs: Optional[dict], loss_switch_iter: int) -> None:
        if self.use_sigmoid_ce and cls_loss != "ce":
            raise ValueError(f"cls_loss={cls_loss!r} needs softmax scores: set use_sigmoid_ce=False")
        if isinstance(loss_switch_iter, bool) or not isinstance(loss_switch_iter, int) or loss_switch_iter < 0:
            raise ValueError(f"loss_switch_iter must be an int >= 0, got {loss_switch_iter!r}")
        self.cls_loss_name = cls_loss
        self.loss_switch_iter = loss_switch_iter
        self._memorization = MemorizationCounter("noisy_fg_fraction")
        self.cls_loss = None if cls_loss == "ce" else self._build_cls_loss(cls_loss, dict(cls_loss_kwargs or {}))

    @staticmethod
    def check_cls_loss(name: str):
        """The registered loss `name` (its `LossSpec`) if the box classifier can use it; one ValueError if it is
        unknown or dense-only. Also called by `use_noisy_roi_heads`, so a LazyConfig fails when it is written."""
        spec = loss_spec(name)  # what the loss declared at registration, not guessed from its signature
        if not spec.takes_classification_logits:
            box_losses = [n for n in available_losses() if loss_spec(n).takes_classification_logits]
            raise ValueError(f"cls_loss={name!r} is a dense loss; the box classifier needs a classification loss: "
                             f"choose one of {', '.join(box_losses)}")
        return spec

    def _build_cls_loss(self, name: str, kwargs: dict):
        spec = self.check_cls_loss(name)
        if "ignore_index" in spec.defaults:  # gt_classes has no ignore label; 255 may be a real class (LVIS)
            kwargs.setdefault("ignore_index", None)
        if spec.needs_bg_index:
            bg_index = kwargs.setdefault("bg_index", self.num_classes)
            if bg_index != self.num_classes:
                raise ValueError(
                    f"cls_loss_kwargs bg_index={bg_index} is inconsistent with num_classes={self.num_classes}: "
                    f"detectron2's background is the last class, index {self.num_classes}; drop bg_index."
                )
        return build_loss(name, **kwargs)

    @classmethod
    def from_config(cls, cfg, input_shape):
        return {**super().from_config(cfg, input_shape), **cls._loss_options(cfg)}

    @staticmethod
    def _loss_options(cfg) -> dict:
        box_cfg = cfg.MODEL.ROI_BOX_HEAD
        return {
            "cls_loss": box_cfg.get("CLS_LOSS", "ce"),
            "cls_loss_kwargs": dict(box_cfg.get("CLS_LOSS_KWARGS", {}) or {}),
            "loss_switch_iter": box_cfg.get("LOSS_SWITCH_ITER", 0),
        }

    def robust_loss_active(self) -> bool:
        if self.cls_loss is None:
            return False
        it = _current_iter()
        return it is None or it >= self.loss_switch_iter

    def losses(self, predictions, proposals):
        losses = super().losses(predictions, proposals)
        scores = predictions[0]
        if not len(proposals) or scores.numel() == 0:
            return losses
        gt_classes = cat([p.gt_classes for p in proposals], dim=0)
        if proposals[0].has("gt_clean_classes"):
            self._log_memorization(scores, gt_classes, proposals)
        if self.robust_loss_active():
            losses["loss_cls"] = self.cls_loss(scores, gt_classes) * self.loss_weight.get("loss_cls", 1.0)
        return losses

    def _log_memorization(self, scores, gt_classes, proposals):
        """Among foreground RoIs whose label was corrupted, how often the prediction is the clean vs the noisy
        label (see `MemorizationCounter`); noisy_fg_fraction is their share of all RoIs."""
        clean = cat([p.gt_clean_classes for p in proposals], dim=0)
        corrupted = (gt_classes < self.num_classes) & (clean != gt_classes)
        self._memorization.update(scores.detach().argmax(dim=1), clean, gt_classes, corrupted,
                                  torch.tensor(corrupted.numel(), device=corrupted.device))
