# A narrow Semantic FPN for from-scratch training on CPU: the toy Mask R-CNN's backbone (ResNet-18 layout at a
# quarter width, 32-channel FPN, trainable BN) under detectron2's SemanticSegmentor, with NoisySemSegFPNHead,
# whose loss is chosen by name (model.sem_seg_head.loss=...; plain CE by default, exactly the stock head's).
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling import SemanticSegmentor

from noisy_seg.modeling import NoisySemSegFPNHead

from .mask_rcnn_R18_FPN_tiny import CHANNELS, NORM
from .mask_rcnn_R18_FPN_tiny import model as _instance_model

model = L(SemanticSegmentor)(
    backbone=_instance_model.backbone,
    sem_seg_head=L(NoisySemSegFPNHead)(
        input_shape={
            f: L(ShapeSpec)(stride=s, channels="${....backbone.out_channels}")
            for f, s in zip(["p2", "p3", "p4", "p5"], [4, 8, 16, 32])
        },
        num_classes=19,
        conv_dims=CHANNELS,
        common_stride=4,
        norm=NORM,
        ignore_value=255,
        loss="ce",
        loss_kwargs={},
        loss_switch_iter=0,
    ),
    pixel_mean=[103.530, 116.280, 123.675],
    pixel_std=[1.0, 1.0, 1.0],
)
