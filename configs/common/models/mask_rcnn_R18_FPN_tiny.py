# A narrow Mask R-CNN for training on CPU: ResNet-18's layout (2 BasicBlocks per stage) at half its width, res5 at
# 192 channels (32-64-128-192), a 32-channel FPN, slim heads and few proposals. One training iteration on 4 toy
# images took ~150 ms on 2 cores, against ~525 ms for the 64-channel R18-FPN the toy recipe used before (commit
# 267c712; benchmarks/bench_toy_recipe.py times both recipes end to end). res5 at 192 rather than 256: the same
# toy mask AP (52.5 vs 52.4, one seed each) with 1.9M instead of 2.8M backbone parameters, so its pretrained
# weights (noisy_seg://backbones/R18_tiny_corpus.pth, tools/pretrain_backbone.py) ship in float16 at 3.9 MB.
# Every norm is trainable BN (from scratch, FrozenBN diverges; the pretrained weights were trained with BN).
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling.backbone.resnet import BasicBlock, BasicStem, ResNet

from .mask_rcnn_fpn import model

PRETRAINED_BACKBONE = "noisy_seg://backbones/R18_tiny_corpus.pth"  # this backbone's weights (noisy_seg.model_zoo)
NORM = "BN"
STAGE_WIDTHS = (32, 64, 128, 192)  # res2 .. res5; the stem is as wide as res2
CHANNELS = 32  # FPN and mask head
BOX_FC = 128

model.backbone.bottom_up.freeze_at = 0
model.backbone.bottom_up.stem = L(BasicStem)(in_channels=3, out_channels=STAGE_WIDTHS[0], norm=NORM)
model.backbone.bottom_up.stages = [
    L(ResNet.make_stage)(
        block_class=BasicBlock,
        num_blocks=2,
        stride_per_block=[stride, 1],
        in_channels=c_in,
        out_channels=c_out,
        norm=NORM,
    )
    for stride, c_in, c_out in zip((1, 2, 2, 2), STAGE_WIDTHS[:1] + STAGE_WIDTHS[:3], STAGE_WIDTHS)
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
