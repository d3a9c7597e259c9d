# A narrow Mask R-CNN for from-scratch training on CPU: ResNet-18's layout (2 BasicBlocks per stage) at a
# quarter of its width (32-64-128-256 channels), a 32-channel FPN, slim heads and few proposals. One training
# iteration on 4 toy images took ~150 ms on 2 cores, against ~525 ms for the 64-channel R18-FPN the toy recipe
# used before (commit 267c712; benchmarks/bench_toy_recipe.py times both recipes end to end).
# From scratch, FrozenBN diverges: every norm is trainable BN.
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling.backbone.resnet import BasicBlock, BasicStem, ResNet

from .mask_rcnn_fpn import model

NORM = "BN"
WIDTH = 32  # stage widths WIDTH x (1, 2, 4, 8)
CHANNELS = 32  # FPN and mask head
BOX_FC = 128

_widths = [WIDTH * m for m in (1, 2, 4, 8)]
model.backbone.bottom_up.freeze_at = 0
model.backbone.bottom_up.stem = L(BasicStem)(in_channels=3, out_channels=WIDTH, norm=NORM)
model.backbone.bottom_up.stages = [
    L(ResNet.make_stage)(block_class=BasicBlock, num_blocks=2, stride_per_block=[stride, 1], in_channels=c_in,
                         out_channels=c_out, norm=NORM)
    for stride, c_in, c_out in zip((1, 2, 2, 2), [WIDTH] + _widths[:3], _widths)
]
model.backbone.norm = NORM
model.backbone.out_channels = CHANNELS
model.proposal_generator.head.in_channels = CHANNELS
# small images with 1-4 objects: small anchors, few proposals, few sampled RoIs
model.proposal_generator.anchor_generator.sizes = [[16], [32], [64], [128], [256]]
model.proposal_generator.pre_nms_topk = (300, 300)
model.proposal_generator.post_nms_topk = (100, 100)
model.roi_heads.batch_size_per_image = 64
model.roi_heads.box_head.input_shape = ShapeSpec(channels=CHANNELS, height=7, width=7)
model.roi_heads.box_head.fc_dims = [BOX_FC, BOX_FC]
model.roi_heads.box_predictor.input_shape = ShapeSpec(channels=BOX_FC)
model.roi_heads.mask_head.input_shape = ShapeSpec(channels=CHANNELS, width=14, height=14)
model.roi_heads.mask_head.conv_dims = [CHANNELS, CHANNELS]
