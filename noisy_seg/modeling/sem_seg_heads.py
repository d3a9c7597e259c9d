"""Semantic segmentation heads whose loss is chosen by name (see `SemSegLoss`), registered in detectron2's
SEM_SEG_HEADS_REGISTRY. Each is its stock head with only the loss replaced: the layers are built by the stock
constructor first, so from the same seed the weights equal the stock head's; with loss="ce" (and before
loss_switch_iter) the stock loss itself runs.

    yacs:       MODEL.SEM_SEG_HEAD.NAME = "NoisySemSegFPNHead"; MODEL.SEM_SEG_HEAD.LOSS = "gce"
                MODEL.SEM_SEG_HEAD.LOSS_KWARGS.q = 0.7; MODEL.SEM_SEG_HEAD.LOSS_SWITCH_ITER = 1000
    LazyConfig: model.sem_seg_head._target_ = NoisySemSegFPNHead; model.sem_seg_head.loss = "ce + 0.5 * dice"

`predictor_init_std` (yacs MODEL.SEM_SEG_HEAD.PREDICTOR_INIT_STD; 0 = the stock init) draws the 1x1 class predictor
from N(0, std) with bias 0, as detectron2's box predictor is drawn (N(0, 0.01)); SemSegFPNHead's MSRA fill of the
predictor gives first losses of 6.6-9.0 on the toy recipe (ln 19 = 2.9), up to 17 on other data, and a
seed-dependent start (see the toy Semantic FPN config).
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, SEM_SEG_HEADS_REGISTRY
from detectron2.modeling.meta_arch.semantic_seg import SemanticSegmentor, SemSegFPNHead
from detectron2.projects.deeplab import DeepLabV3PlusHead
from detectron2.structures import ImageList

from .memorization import MemorizationCounter
from .sem_seg_loss import SemSegLoss

__all__ = ["NoisyDeepLabV3PlusHead", "NoisySemSegFPNHead", "NoisySemanticSegmentor"]


def _loss_options(cfg) -> dict:
    head = cfg.MODEL.SEM_SEG_HEAD
    kwargs = head.get("LOSS_KWARGS", {}) or {}
    return {
        "loss": head.get("LOSS", "ce"),
        "loss_kwargs": _plain(kwargs),
        "loss_switch_iter": head.get("LOSS_SWITCH_ITER", 0),
        "predictor_init_std": head.get("PREDICTOR_INIT_STD", 0.0),
    }


def _plain(value):
    """yacs CfgNodes (dicts) -> plain dicts, recursively."""
    return {k: _plain(v) for k, v in value.items()} if isinstance(value, dict) else value


def check_predictor_init_std(value) -> None:
    """A finite number >= 0 (0: the stock init), else one-line ValueError; the config checks call it too."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"predictor_init_std must be a finite number >= 0 (0 keeps the stock init), got {value!r}")


def _log_memorization(head, predictions, targets) -> None:
    """Among non-ignored pixels whose label noise changed, how often the prediction is the clean vs the noisy label
    (`MemorizationCounter`); needs the clean maps, which `NoisySemanticSegmentor` hands over as `clean_targets`."""
    clean = getattr(head, "clean_targets", None)
    if clean is None:
        return
    with torch.no_grad():
        upsampled = F.interpolate(
            predictions.detach(), scale_factor=head.common_stride, mode="bilinear", align_corners=False
        )
        valid = targets != head.ignore_value
        head.memorization.update(upsampled.argmax(dim=1), clean, targets, valid & (clean != targets), valid.sum())


def _upsampled_loss(head, predictions, targets) -> dict:
    """The stock heads' losses() with the loss replaced: logits upsampled to label resolution as they do. Used
    only while the configured loss replaces the stock one (not "ce", from loss_switch_iter on)."""
    predictions = F.interpolate(predictions, scale_factor=head.common_stride, mode="bilinear", align_corners=False)
    loss = head.sem_seg_loss(predictions, targets, present=head.present_classes)
    return {"loss_sem_seg": loss * head.loss_weight}


def _zero_if_all_ignored(head, losses: dict, predictions, targets) -> dict:
    """The stock losses, but 0 for a batch whose every pixel is ignored (noise may leave an image so): the stock
    mean CE over no pixel is NaN, on which detectron2's trainer stops; the registered losses give 0 there too.
    Otherwise the stock values exactly. No host sync (torch.where); a non-finite logit still gives NaN."""
    counted = (targets != head.ignore_value).any()
    zero = predictions.sum() * 0.0
    return {name: torch.where(counted, value, zero) for name, value in losses.items()}


class _LossByName:
    """What both noisy semantic heads add to their stock head: `SemSegLoss` (loss, loss_kwargs, loss_switch_iter),
    its yacs keys, per-pixel memorization counts, and the clean maps / image tags `NoisySemanticSegmentor` hands
    over for one forward. Mixed in before the stock head, so everything else is the stock head's."""

    @configurable
    def __init__(
        self,
        input_shape,
        *,
        num_classes=None,
        loss="ce",
        loss_kwargs=None,
        loss_switch_iter: int = 0,
        predictor_init_std: float = 0.0,
        **kwargs,
    ):
        # by keyword: a LazyConfig's input_shape arrives as a DictConfig, which @configurable would take for a cfg
        super().__init__(input_shape=input_shape, num_classes=num_classes, **kwargs)
        if num_classes is None:
            raise ValueError(
                f"{type(self).__name__} predicts classes: give num_classes (a decoder-only head has no loss to replace)"
            )
        check_predictor_init_std(predictor_init_std)
        if predictor_init_std > 0:
            torch.nn.init.normal_(self.predictor.weight, std=predictor_init_std)
            torch.nn.init.zeros_(self.predictor.bias)
        self.sem_seg_loss = SemSegLoss(
            loss, loss_kwargs, loss_switch_iter, ignore_value=self.ignore_value, num_classes=num_classes
        )
        self.memorization = MemorizationCounter("noisy_pixel_fraction")
        self.clean_targets, self.present_classes = None, None  # set for one forward by NoisySemanticSegmentor

    @classmethod
    def from_config(cls, cfg, input_shape):
        return {**super().from_config(cfg, input_shape), **_loss_options(cfg)}

    def losses(self, predictions, targets):
        _log_memorization(self, predictions, targets)
        if not self.sem_seg_loss.replaces_stock_loss():
            return _zero_if_all_ignored(self, super().losses(predictions, targets), predictions, targets)
        return _upsampled_loss(self, predictions, targets)


@SEM_SEG_HEADS_REGISTRY.register()
class NoisySemSegFPNHead(_LossByName, SemSegFPNHead):
    """`SemSegFPNHead` (SemanticSegmentor, Panoptic FPN's semantic head) with a loss chosen by name.

    Args (in addition to SemSegFPNHead's): loss, loss_kwargs, loss_switch_iter (see `SemSegLoss`) and
    predictor_init_std (0: the stock MSRA init of the predictor; > 0: N(0, std), bias 0).
    """


@SEM_SEG_HEADS_REGISTRY.register()
class NoisyDeepLabV3PlusHead(_LossByName, DeepLabV3PlusHead):
    """detectron2's DeepLab project `DeepLabV3PlusHead` with a loss chosen by name. With loss="ce", and before
    loss_switch_iter, its own loss runs (`loss_type`: cross_entropy or hard_pixel_mining).

    Args (in addition to DeepLabV3PlusHead's): loss, loss_kwargs, loss_switch_iter (see `SemSegLoss`) and
    predictor_init_std (0: the stock init of the predictor; > 0: N(0, std), bias 0).
    """


@META_ARCH_REGISTRY.register()
class NoisySemanticSegmentor(SemanticSegmentor):
    """detectron2's `SemanticSegmentor` that also hands its noisy head what the mapper adds for training: the
    clean label maps (`NoisySemSegDatasetMapper(keep_clean_sem_seg=True)`: memorization curves
    memorization/pred_is_clean_label, pred_is_noisy_label, noisy_pixel_fraction) and image-level tags
    (`image_tags=True`: class-aware CE on weakly labelled images). Otherwise it is the stock model."""

    def forward(self, batched_inputs):
        head = self.sem_seg_head
        if not (self.training and hasattr(head, "memorization")):
            return super().forward(batched_inputs)
        if "sem_seg_clean" in batched_inputs[0]:  # padded like the noisy targets, with the ignore label
            head.clean_targets = ImageList.from_tensors(
                [x["sem_seg_clean"].to(self.device) for x in batched_inputs],
                self.backbone.size_divisibility,
                head.ignore_value,
                self.backbone.padding_constraints,
            ).tensor
        if "present_classes" in batched_inputs[0]:
            head.present_classes = torch.stack([x["present_classes"] for x in batched_inputs]).to(self.device)
        try:
            return super().forward(batched_inputs)
        finally:
            head.clean_targets, head.present_classes = None, None
