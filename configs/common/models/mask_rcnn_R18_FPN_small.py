# A small Mask R-CNN (ResNet-18 FPN, 64 channels) for from-scratch training on CPU.
# From scratch, FrozenBN diverges: the backbone and FPN use trainable norms ("BN" by default; use
# "GN" for batch sizes of 1-2 per process) and nothing is frozen.
from detectron2.layers import ShapeSpec

from .mask_rcnn_fpn import model

NORM = "BN"
CHANNELS = 64
BOX_FC = 256

model.backbone.bottom_up.freeze_at = 0
model.backbone.bottom_up.stem.norm = NORM
model.backbone.bottom_up.stages.depth = 18
model.backbone.bottom_up.stages.norm = NORM
del model.backbone.bottom_up.stages.stride_in_1x1  # BasicBlocks (depth 18/34) do not take it
model.backbone.norm = NORM
model.backbone.out_channels = CHANNELS
model.proposal_generator.head.in_channels = CHANNELS
# small images: smaller anchors, fewer proposals
model.proposal_generator.anchor_generator.sizes = [[16], [32], [64], [128], [256]]
model.proposal_generator.pre_nms_topk = (1000, 500)
model.proposal_generator.post_nms_topk = (500, 250)
model.roi_heads.batch_size_per_image = 128
model.roi_heads.box_head.input_shape = ShapeSpec(channels=CHANNELS, height=7, width=7)
model.roi_heads.box_head.fc_dims = [BOX_FC, BOX_FC]
model.roi_heads.box_predictor.input_shape = ShapeSpec(channels=BOX_FC)
model.roi_heads.mask_head.input_shape = ShapeSpec(channels=CHANNELS, width=14, height=14)
model.roi_heads.mask_head.conv_dims = [CHANNELS] * 4
