"""ROI heads whose box classifier loss is configurable (see NoisyFastRCNNOutputLayers), one per detectron2 family:
StandardROIHeads (FPN), CascadeROIHeads (every stage) and Res5ROIHeads (C4).

Only the yacs path needs these classes: they adopt the box predictors detectron2 builds (one build, the same
weights and RNG draws as stock). LazyConfig users call `noisy_seg.config.use_noisy_roi_heads`. A class-agnostic
mask head is detectron2's own: MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK, or `mask_head.num_classes = 1`.
"""

from __future__ import annotations

from detectron2.modeling.roi_heads import ROI_HEADS_REGISTRY, CascadeROIHeads, Res5ROIHeads, StandardROIHeads

from .fast_rcnn import NoisyFastRCNNOutputLayers


@ROI_HEADS_REGISTRY.register()
class NoisyStandardROIHeads(StandardROIHeads):
    """StandardROIHeads with a `NoisyFastRCNNOutputLayers` box predictor (yacs: MODEL.ROI_BOX_HEAD.CLS_LOSS)."""

    @classmethod
    def _init_box_head(cls, cfg, input_shape):
        ret = super()._init_box_head(cfg, input_shape)
        ret["box_predictor"] = NoisyFastRCNNOutputLayers.from_stock(ret["box_predictor"], cfg)
        return ret


@ROI_HEADS_REGISTRY.register()
class NoisyCascadeROIHeads(CascadeROIHeads):
    """CascadeROIHeads whose every stage uses `NoisyFastRCNNOutputLayers`. Memorization is logged by the first
    stage only, as stage0/memorization/*, and MODEL.ROI_BOX_HEAD.ANNOTATION_LOSS_WEIGHTS weights the first stage
    only: later stages re-match their boxes and carry no clean labels nor annotation weights."""

    @classmethod
    def _init_box_head(cls, cfg, input_shape):
        ret = super()._init_box_head(cfg, input_shape)
        first, *later = ret["box_predictors"]
        ret["box_predictors"] = [NoisyFastRCNNOutputLayers.from_stock(first, cfg)] + [
            NoisyFastRCNNOutputLayers.from_stock(p, cfg, annotation_loss_weights=False) for p in later
        ]
        return ret


@ROI_HEADS_REGISTRY.register()
class NoisyRes5ROIHeads(Res5ROIHeads):
    """Res5ROIHeads (C4 models) with a `NoisyFastRCNNOutputLayers` box predictor."""

    @classmethod
    def from_config(cls, cfg, input_shape):
        ret = super().from_config(cfg, input_shape)
        ret["box_predictor"] = NoisyFastRCNNOutputLayers.from_stock(ret["box_predictor"], cfg)
        return ret
