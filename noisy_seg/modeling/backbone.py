"""A ResNet-18/34 layout at any width for yacs configs, registered in detectron2's BACKBONE_REGISTRY.

detectron2's yacs `build_resnet_backbone` fixes R18/R34 at 64 channels (RES2_OUT_CHANNELS must be 64); the toy
recipes use them narrower. `build_basic_resnet_fpn_backbone` builds what the LazyConfig toy model builds
(configs/common/models/mask_rcnn_R18_FPN_tiny.py): a BasicStem and BasicBlock stages of widths
MODEL.RESNETS.STAGE_WIDTHS (res2..res5; empty: RES2_OUT_CHANNELS x 1, 2, 4, 8) under detectron2's FPN, with the
same module names, so that one checkpoint (`noisy_seg://backbones/R18_tiny_corpus.pth`) loads into both.
"""

from __future__ import annotations

from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY
from detectron2.modeling.backbone import FPN, ResNet
from detectron2.modeling.backbone.fpn import LastLevelMaxPool
from detectron2.modeling.backbone.resnet import BasicBlock, BasicStem

__all__ = ["build_basic_resnet_fpn_backbone"]

_BLOCKS_PER_STAGE = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


def _basic_resnet(cfg, input_shape: ShapeSpec) -> ResNet:
    resnets = cfg.MODEL.RESNETS
    if resnets.DEPTH not in _BLOCKS_PER_STAGE:
        raise ValueError(
            f"build_basic_resnet_fpn_backbone builds ResNet-18 / 34 layouts; MODEL.RESNETS.DEPTH is "
            f"{resnets.DEPTH}: use detectron2's build_resnet_fpn_backbone for 50 and deeper"
        )
    norm = resnets.NORM
    widths = list(resnets.get("STAGE_WIDTHS", None) or [resnets.RES2_OUT_CHANNELS * 2**i for i in range(4)])
    if len(widths) != 4 or not all(isinstance(w, int) and w > 0 for w in widths):
        raise ValueError(f"MODEL.RESNETS.STAGE_WIDTHS must be 4 positive ints (res2..res5), got {widths!r}")
    stem = BasicStem(in_channels=input_shape.channels, out_channels=resnets.STEM_OUT_CHANNELS, norm=norm)
    stages = [
        ResNet.make_stage(
            block_class=BasicBlock,
            num_blocks=blocks,
            stride_per_block=[stride] + [1] * (blocks - 1),
            in_channels=c_in,
            out_channels=c_out,
            norm=norm,
        )
        for blocks, stride, c_in, c_out in zip(
            _BLOCKS_PER_STAGE[resnets.DEPTH], (1, 2, 2, 2), [resnets.STEM_OUT_CHANNELS] + widths[:3], widths
        )
    ]
    return ResNet(stem, stages, out_features=resnets.OUT_FEATURES).freeze(cfg.MODEL.BACKBONE.FREEZE_AT)


@BACKBONE_REGISTRY.register()
def build_basic_resnet_fpn_backbone(cfg, input_shape: ShapeSpec) -> FPN:
    """MODEL.BACKBONE.NAME "build_basic_resnet_fpn_backbone": MODEL.RESNETS.DEPTH 18 or 34 at STEM_OUT_CHANNELS and
    RES2_OUT_CHANNELS of your choice, NORM, OUT_FEATURES; MODEL.FPN as detectron2's build_resnet_fpn_backbone."""
    return FPN(
        bottom_up=_basic_resnet(cfg, input_shape),
        in_features=cfg.MODEL.FPN.IN_FEATURES,
        out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
        norm=cfg.MODEL.FPN.NORM,
        top_block=LastLevelMaxPool(),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )
