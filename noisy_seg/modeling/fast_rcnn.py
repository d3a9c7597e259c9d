"""Box predictor whose classification loss is chosen by name (Yang et al. 2020 and robust losses)."""

from __future__ import annotations

from typing import Optional

import torch

from detectron2.config import configurable
from detectron2.layers import cat
from detectron2.modeling.roi_heads import FastRCNNOutputLayers
from detectron2.utils.events import get_event_storage

from ..losses import build_loss, loss_spec_for
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
        annotation_loss_weights: multiply the classification loss of each foreground RoI by its ground-truth
            annotation's "loss_weight" (the proposals' `gt_loss_weights`, which `NoisyDatasetMapper` puts when the
            annotations carry one, e.g. tools/find_label_errors.py's weighted.json: the GMM clean probability);
            background RoIs keep weight 1. Also for "ce", which then is the registered "ce" loss with per-RoI
            weights; off, "ce" is the stock loss. "mean" still divides by the number of RoIs.
    Box regression is unchanged.
    """

    @configurable
    def __init__(
        self,
        *args,
        cls_loss: str = "ce",
        cls_loss_kwargs: Optional[dict] = None,
        loss_switch_iter: int = 0,
        annotation_loss_weights: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self._init_cls_loss(cls_loss, cls_loss_kwargs, loss_switch_iter, annotation_loss_weights)

    @classmethod
    def from_stock(cls, predictor: FastRCNNOutputLayers, cfg, **options) -> "NoisyFastRCNNOutputLayers":
        """The stock predictor detectron2 just built, turned into this class in place with the loss of the yacs
        `cfg` (`options` override it): its layers are not built again, so the weights and the global RNG stream
        stay exactly stock."""
        predictor.__class__ = cls
        predictor._init_cls_loss(**{**cls._loss_options(cfg), **options})
        return predictor

    def _init_cls_loss(
        self,
        cls_loss: str,
        cls_loss_kwargs: Optional[dict],
        loss_switch_iter: int,
        annotation_loss_weights: bool = False,
    ) -> None:
        if self.use_sigmoid_ce and (cls_loss != "ce" or annotation_loss_weights):
            option = f"cls_loss={cls_loss!r}" if cls_loss != "ce" else "annotation_loss_weights=True"
            raise ValueError(f"{option} needs softmax scores: set use_sigmoid_ce=False")
        if isinstance(loss_switch_iter, bool) or not isinstance(loss_switch_iter, int) or loss_switch_iter < 0:
            raise ValueError(f"loss_switch_iter must be an int >= 0, got {loss_switch_iter!r}")
        if not isinstance(annotation_loss_weights, bool):
            raise ValueError(f"annotation_loss_weights must be True or False, got {annotation_loss_weights!r}")
        self.cls_loss_name = cls_loss
        self.loss_switch_iter = loss_switch_iter
        self.memorization = MemorizationCounter("noisy_fg_fraction", background=self.num_classes)
        self.cls_loss = None if cls_loss == "ce" else self._build_cls_loss(cls_loss, dict(cls_loss_kwargs or {}))
        self.annotation_loss_weights = annotation_loss_weights
        # plain CE with per-RoI weights (detectron2's cross_entropy takes none): "ce", and CE before loss_switch_iter
        self._weighted_ce = build_loss("ce", ignore_index=None) if annotation_loss_weights else None

    @staticmethod
    def check_cls_loss(name: str):
        """The registered loss `name` (its `LossSpec`) if the box classifier can use it; one ValueError if it is
        unknown or dense-only. Also called by `use_noisy_roi_heads`, so a LazyConfig fails when it is written."""
        # what the loss declared at registration, not guessed from its signature
        return loss_spec_for(
            name, "classification", f"cls_loss={name!r} is {{kind}}; the box classifier needs a classification loss"
        )

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
            "annotation_loss_weights": box_cfg.get("ANNOTATION_LOSS_WEIGHTS", False),
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
        if any(p.has("gt_clean_classes") for p in proposals):  # the noisy mapper's clean labels, on any image
            self._log_memorization(scores, gt_classes, proposals)
        weight = self._roi_weights(proposals, gt_classes) if self.annotation_loss_weights else None
        scale = self.loss_weight.get("loss_cls", 1.0)
        if self.robust_loss_active():
            losses["loss_cls"] = self.cls_loss(scores, gt_classes, weight=weight) * scale
        elif weight is not None:  # plain CE ("ce", or before loss_switch_iter) weighted by the annotations
            losses["loss_cls"] = self._weighted_ce(scores, gt_classes, weight=weight) * scale
        return losses

    def _roi_weights(self, proposals, gt_classes) -> torch.Tensor:
        """(N,) per-RoI loss weights: a foreground RoI's ground-truth annotation's loss weight, 1 for a background RoI
        (the gt_* fields detectron2 copies to it belong to an arbitrary annotation). No host sync: torch.where."""
        parts = []
        for p in proposals:
            if p.has("gt_loss_weights"):
                parts.append(p.gt_loss_weights)
            elif not p.has("gt_boxes"):  # an image without annotations: detectron2 copied no gt_* field, all bg
                parts.append(torch.ones(len(p), device=gt_classes.device))
            else:
                raise ValueError(
                    'annotation_loss_weights=True but the training annotations carry no "loss_weight" (the proposals '
                    "have no gt_loss_weights): train on the weighted.json that tools/find_label_errors.py writes, "
                    "registered with noisy_seg.data.register_coco_file(json_file, like=...), mapped by "
                    "NoisyDatasetMapper; in a cascade only the first stage's proposals carry them"
                )
        weights = cat(parts, dim=0).to(torch.float32)
        foreground = (gt_classes >= 0) & (gt_classes < self.num_classes)
        return torch.where(foreground, weights, torch.ones_like(weights))

    def _log_memorization(self, scores, gt_classes, proposals):
        """Among foreground RoIs whose label was corrupted, how often the prediction is the clean label, the noisy
        one, background or another class (see `MemorizationCounter`); noisy_fg_fraction is their share of all RoIs.
        An image without annotations (the noise may drop them all) has proposals with background `gt_classes`
        only (detectron2 copies no gt_* field from an empty target): nothing corrupted there."""
        clean = cat([p.gt_clean_classes if p.has("gt_clean_classes") else p.gt_classes for p in proposals], dim=0)
        corrupted = (gt_classes < self.num_classes) & (clean != gt_classes)
        self.memorization.update(
            scores.detach().argmax(dim=1),
            clean,
            gt_classes,
            corrupted,
            torch.tensor(corrupted.numel(), device=corrupted.device),
        )
