"""ROI heads whose box classifier loss is configurable (see NoisyFastRCNNOutputLayers)."""
from __future__ import annotations

from torch import nn

from detectron2.config import configurable
from detectron2.layers import Conv2d
from detectron2.modeling.roi_heads import ROI_HEADS_REGISTRY, CascadeROIHeads, StandardROIHeads

from .fast_rcnn import NoisyFastRCNNOutputLayers


def _make_mask_head_class_agnostic(mask_head: nn.Module) -> None:
    """Give the mask head a single output channel, so a wrong class label cannot pick the wrong
    mask channel (mask_rcnn_loss/inference treat 1 channel as class-agnostic)."""
    old = mask_head.predictor
    if old.out_channels == 1:
        return
    new = Conv2d(old.in_channels, 1, kernel_size=1).to(old.weight.device)
    nn.init.normal_(new.weight, std=0.001)  # detectron2's init for this layer
    nn.init.constant_(new.bias, 0)
    mask_head.predictor = new


class _NoisyROIHeadsMixin:
    """Adds `cls_agnostic_mask` to an ROIHeads class; the box predictors are swapped in `_init_box_head`."""

    @configurable
    def __init__(self, *, cls_agnostic_mask: bool = False, **kwargs):
        super().__init__(**kwargs)
        if cls_agnostic_mask:
            if not self.mask_on:
                raise ValueError("cls_agnostic_mask=True needs a mask head (mask_in_features/mask_head set)")
            _make_mask_head_class_agnostic(self.mask_head)


@ROI_HEADS_REGISTRY.register()
class NoisyStandardROIHeads(_NoisyROIHeadsMixin, StandardROIHeads):
    """StandardROIHeads with a `NoisyFastRCNNOutputLayers` box predictor (yacs: MODEL.ROI_BOX_HEAD.CLS_LOSS)
    and an optional class-agnostic mask head."""

    @classmethod
    def _init_box_head(cls, cfg, input_shape):
        ret = super()._init_box_head(cfg, input_shape)
        ret["box_predictor"] = NoisyFastRCNNOutputLayers(cfg, ret["box_head"].output_shape)
        return ret


@ROI_HEADS_REGISTRY.register()
class NoisyCascadeROIHeads(_NoisyROIHeadsMixin, CascadeROIHeads):
    """CascadeROIHeads whose every stage uses `NoisyFastRCNNOutputLayers`."""

    @classmethod
    def _init_box_head(cls, cfg, input_shape):
        ret = super()._init_box_head(cfg, input_shape)
        ret["box_predictors"] = [
            NoisyFastRCNNOutputLayers(cfg, head.output_shape, box2box_transform=pred.box2box_transform)
            for head, pred in zip(ret["box_heads"], ret["box_predictors"])
        ]
        return ret
