# A narrow Semantic FPN for from-scratch training on CPU: the toy Mask R-CNN's backbone (ResNet-18 layout at a
# quarter width, 32-channel FPN, trainable BN) under detectron2's SemanticSegmentor, with NoisySemSegFPNHead,
# whose loss is chosen by name (model.sem_seg_head.loss=...; plain CE by default, exactly the stock head's).
from .mask_rcnn_R18_FPN_tiny import CHANNELS, NORM
from .mask_rcnn_R18_FPN_tiny import model as _instance_model
from .semantic_fpn import semantic_fpn

model = semantic_fpn(
    _instance_model.backbone,
    num_classes=19,
    conv_dims=CHANNELS,
    norm=NORM,
    pixel_mean=[103.530, 116.280, 123.675],
    pixel_std=[1.0, 1.0, 1.0],
)
