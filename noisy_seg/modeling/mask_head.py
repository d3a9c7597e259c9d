"""Mask heads whose mask loss is chosen by name: the stock `MaskRCNNConvUpsampleHead` with a registered mask loss
(`NoisyMaskRCNNConvUpsampleHead`), and Noisy Boundaries' noise-tolerant mask head (`NoiseTolerantMaskHead`).

With "bce" (the default) the loss is detectron2's own `mask_rcnn_loss`: same seed, same weights, same losses as the
stock head. Any ROI-head family builds them from `ROI_MASK_HEAD_REGISTRY` (yacs: MODEL.ROI_MASK_HEAD.NAME;
LazyConfig: `noisy_seg.config.use_noisy_roi_heads(model, mask_loss=...)`).
"""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import nn

import fvcore.nn.weight_init as weight_init
from detectron2.config import configurable
from detectron2.layers import Conv2d, ConvTranspose2d, cat
from detectron2.modeling.roi_heads.mask_head import (
    ROI_MASK_HEAD_REGISTRY,
    MaskRCNNConvUpsampleHead,
    mask_rcnn_inference,
    mask_rcnn_loss,
)
from detectron2.structures import Instances

from ..losses import binary_cross_entropy, build_loss, loss_spec, loss_spec_for
from .fast_rcnn import _current_iter
from .memorization import MaskMemorizationCounter

__all__ = ["NoisyMaskRCNNConvUpsampleHead", "NoiseTolerantMaskHead", "check_mask_loss"]

STOCK_MASK_LOSS = "bce"


def check_mask_loss(name: str, kwargs: Optional[dict] = None, mask_side: Optional[int] = None):
    """The `LossSpec` of mask loss `name` if the mask head can use it; one ValueError if it is unknown, a box or
    semantic loss, has a bad option, or a band wider than the RoI mask (`mask_side` pixels). Called when a head is
    built and by `use_noisy_roi_heads`, so a LazyConfig fails when it is written."""
    spec = loss_spec_for(name, "mask", f"mask_loss={name!r} is {{kind}}; the mask head needs a mask loss")
    options = spec.validated_options(dict(kwargs or {}))
    width = options.get("band_width")
    if mask_side is not None and width is not None and options.get("band_unit") == "mask" and width > mask_side:
        raise ValueError(
            f"mask_loss_kwargs band_width={width} is wider than the {mask_side} x {mask_side} RoI mask: give a width "
            f"in [0, {mask_side}] mask pixels, or band_unit='image' for a width in image pixels"
        )
    return spec


@ROI_MASK_HEAD_REGISTRY.register()
class NoisyMaskRCNNConvUpsampleHead(MaskRCNNConvUpsampleHead):
    """`MaskRCNNConvUpsampleHead` with a configurable mask loss.

    Args (in addition to MaskRCNNConvUpsampleHead's):
        mask_loss: a registered mask loss (`kind="mask"`): "bce" (stock: detectron2's `mask_rcnn_loss`), "sbce",
            "pixel_gce", "bootstrap_soft", "bootstrap_hard", "boundary_bce", "dice_bce", "bpm_bce".
        mask_loss_kwargs: its options (checked here: a band wider than the RoI mask is refused).
        loss_switch_iter: the stock BCE before this training iteration, `mask_loss` from it on; 0: from the start.
    On RoIs whose mask the noise changed (`NoisyDatasetMapper` under spatial noise gives `gt_clean_masks` and
    `gt_mask_noisy`), it logs the mask memorization curve (`MaskMemorizationCounter`) with either loss.
    """

    @configurable
    def __init__(
        self,
        input_shape,
        *,
        num_classes,
        conv_dims,
        conv_norm="",
        mask_loss: str = STOCK_MASK_LOSS,
        mask_loss_kwargs: Optional[dict] = None,
        loss_switch_iter: int = 0,
        **kwargs,
    ):
        super().__init__(input_shape, num_classes=num_classes, conv_dims=conv_dims, conv_norm=conv_norm, **kwargs)
        self._stock_layers = list(self._modules)  # nn.Sequential runs its children: the loss is not one of them
        self.mask_side = 2 * input_shape.height if input_shape.height else None  # the deconv doubles the pooler grid
        check_mask_loss(mask_loss, mask_loss_kwargs, self.mask_side)
        if isinstance(loss_switch_iter, bool) or not isinstance(loss_switch_iter, int) or loss_switch_iter < 0:
            raise ValueError(f"loss_switch_iter must be an int >= 0, got {loss_switch_iter!r}")
        self.mask_loss_name = mask_loss
        self.loss_switch_iter = loss_switch_iter
        self.mask_loss = None if mask_loss == STOCK_MASK_LOSS else build_loss(mask_loss, **dict(mask_loss_kwargs or {}))
        self._needs_roi_sizes = loss_spec(mask_loss).needs_roi_sizes
        self.memorization = MaskMemorizationCounter()

    @classmethod
    def from_config(cls, cfg, input_shape):
        mask_cfg = cfg.MODEL.ROI_MASK_HEAD
        return {
            **super().from_config(cfg, input_shape),
            "mask_loss": mask_cfg.get("LOSS", STOCK_MASK_LOSS),
            "mask_loss_kwargs": dict(mask_cfg.get("LOSS_KWARGS", {}) or {}),
            "loss_switch_iter": mask_cfg.get("LOSS_SWITCH_ITER", 0),
        }

    def layers(self, x):
        for name in self._stock_layers:
            x = self._modules[name](x)
        return x

    def robust_loss_active(self) -> bool:
        if self.mask_loss is None:
            return False
        it = _current_iter()
        return it is None or it >= self.loss_switch_iter

    def forward(self, x, instances: List[Instances]):
        if not self.training:
            return super().forward(x, instances)
        return {name: loss * self.loss_weight for name, loss in self.mask_losses(self.layers(x), instances).items()}

    def mask_losses(self, logits: torch.Tensor, instances: List[Instances]) -> dict:
        """{"loss_mask": ...} of (R, C or 1, M, M) logits; logs the memorization curve when the noise changed
        masks."""
        return {"loss_mask": self._mask_loss(logits, instances, log_memorization=True)}

    def _mask_loss(self, logits: torch.Tensor, instances: List[Instances], log_memorization: bool) -> torch.Tensor:
        robust = self.robust_loss_active()
        it = _current_iter()
        noisy_masks = (
            log_memorization
            and it is not None
            and self.memorization.samples_at(it)
            and any(i.has("gt_clean_masks") for i in instances)
        )
        if not robust and not noisy_masks and logits.shape[-1] == self.mask_side:
            return mask_rcnn_loss(logits, instances, self.vis_period)  # stock: identical losses and logged stats
        selected, targets, boxes = roi_mask_targets(logits, instances)
        if noisy_masks:
            self._log_memorization(selected, targets, boxes, instances)
        if not robust:
            return (
                mask_rcnn_loss(logits, instances, self.vis_period)
                if log_memorization
                else binary_cross_entropy(selected, targets)
            )
        if selected.shape[0] == 0:
            return logits.sum() * 0
        inputs = {"roi_sizes": _box_sizes(boxes)} if self._needs_roi_sizes else {}
        return self.mask_loss(selected, targets, **inputs)

    def _log_memorization(self, selected, targets, boxes, instances) -> None:
        parts = [(i.gt_clean_masks, i.gt_mask_noisy) for i in instances if len(i)]
        if len(parts) != sum(1 for i in instances if len(i)) or not parts:
            return  # an image mapped without spatial noise in the batch: nothing to compare with
        side = selected.shape[-1]
        clean = cat([masks.crop_and_resize(b, side).to(selected.device) for (masks, _), b in zip(parts, boxes)], dim=0)
        corrupted = cat([flags.to(selected.device) for _, flags in parts], dim=0)
        self.memorization.update(selected.detach() > 0, clean, targets > 0.5, corrupted)


def roi_mask_targets(logits: torch.Tensor, instances: List[Instances]):
    """(selected, targets, boxes) for the mask loss: the (R, M, M) logits of each RoI's ground-truth class (or the
    class-agnostic channel), its ground-truth mask cropped to the proposal box and resized to M x M (float 0 / 1,
    as detectron2's `mask_rcnn_loss` crops it), and the proposal boxes per image (list of (R_i, 4))."""
    side = logits.shape[-1]
    agnostic = logits.shape[1] == 1
    classes, targets, boxes = [], [], []
    for per_image in instances:
        if len(per_image) == 0:
            continue
        box = per_image.proposal_boxes.tensor
        boxes.append(box)
        targets.append(per_image.gt_masks.crop_and_resize(box, side).to(device=logits.device))
        if not agnostic:
            classes.append(per_image.gt_classes.to(dtype=torch.int64))
    if not targets:
        empty = logits[:, 0][:0]
        return empty, empty.detach(), boxes
    target = cat(targets, dim=0).to(dtype=torch.float32)
    rois = torch.arange(logits.shape[0], device=logits.device)
    selected = logits[:, 0] if agnostic else logits[rois, cat(classes, dim=0)]
    return selected, target, boxes


def _box_sizes(boxes: List[torch.Tensor]) -> torch.Tensor:
    """(R,) sqrt of each proposal box's area, in input-image pixels."""
    box = cat(boxes, dim=0)
    return ((box[:, 2] - box[:, 0]).clamp_min(0) * (box[:, 3] - box[:, 1]).clamp_min(0)).sqrt()


@ROI_MASK_HEAD_REGISTRY.register()
class NoiseTolerantMaskHead(NoisyMaskRCNNConvUpsampleHead):
    """The noise-tolerant mask head of Noisy Boundaries (Wang et al., CVPR 2022; `FCNMaskHeadNTM` in
    zhenyuw16/noisyboundaries): beside the stock fine branch, a coarse branch on the features before the last conv
    (two 3x3 convs, a 1x1 class predictor at the pooler grid, M/2 x M/2) whose logits, upsampled by a transposed
    conv, are concatenated with the fine logits and fused by a 1x1 conv into the final logits. Its loss is the mask
    loss of the final logits against M x M targets plus, as "loss_mask_coarse", that of the coarse logits against
    M/2 x M/2 targets (the authors train both with the boundary-preserving BCE: mask_loss="bpm_bce").

    Follows the authors' code in the branches, the fusion and the two losses; differs in: the fine predictor stays
    detectron2's 1x1 conv (theirs is 3x3); layers are initialised as detectron2 initialises the stock head (MSRA
    fill; the fusing and coarse 1x1 convs and the coarse upsampling as the authors do: Kaiming normal, fan-out);
    it needs at least one conv before the deconv (conv_dims of length >= 2)."""

    @configurable
    def __init__(self, input_shape, *, num_classes, conv_dims, conv_norm="", **kwargs):
        if len(conv_dims) < 2:
            raise ValueError(
                f"NoiseTolerantMaskHead needs at least one conv before the deconv, got conv_dims={conv_dims}"
            )
        super().__init__(input_shape, num_classes=num_classes, conv_dims=conv_dims, conv_norm=conv_norm, **kwargs)
        coarse_in = conv_dims[-3] if len(conv_dims) > 2 else input_shape.channels
        self.coarse_convs = nn.Sequential(
            *(
                Conv2d(dims_in, conv_dims[-2], kernel_size=3, padding=1, activation=nn.ReLU())
                for dims_in in (coarse_in, conv_dims[-2])
            )
        )
        self.coarse_predictor = Conv2d(conv_dims[-2], num_classes, kernel_size=1)
        self.coarse_upsample = ConvTranspose2d(num_classes, num_classes, kernel_size=2, stride=2)
        self.fuse = Conv2d(2 * num_classes, num_classes, kernel_size=1)
        for conv in self.coarse_convs:
            weight_init.c2_msra_fill(conv)
        for layer in (self.coarse_predictor, self.coarse_upsample, self.fuse):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(layer.bias, 0)

    def _branches(self, x):
        *convs, last_conv, deconv, deconv_relu, predictor = (self._modules[n] for n in self._stock_layers)
        for conv in convs:
            x = conv(x)
        fine = predictor(deconv_relu(deconv(last_conv(x))))
        coarse = self.coarse_predictor(self.coarse_convs(x))
        return self.fuse(torch.cat([self.coarse_upsample(coarse), fine], dim=1)), coarse

    def layers(self, x):
        return self._branches(x)[0]

    def forward(self, x, instances: List[Instances]):
        if not self.training:
            mask_rcnn_inference(self.layers(x), instances)
            return instances
        final, coarse = self._branches(x)
        losses = self.mask_losses(final, instances)
        losses["loss_mask_coarse"] = self._mask_loss(coarse, instances, log_memorization=False)
        return {name: loss * self.loss_weight for name, loss in losses.items()}
