# DeepLabV3+ on Cityscapes fine with NoisyDeepLabV3PlusHead (detectron2's DeepLab project head; its own loss,
# hard pixel mining over the top 20% pixels, runs with loss="ce"; another name replaces it from
# loss_switch_iter on). Backbone: ResNet-50 with res5 dilated (output stride 16), ImageNet init; detectron2's
# DeepLab Cityscapes recipe otherwise: ASPP dilations 6/12/18, 90k iterations of 8 crops 512x1024 (detectron2
# uses 32 on 8 GPUs), poly schedule (the seeds' floor 0.02) after a 1000-iteration warmup. Dense combination:
# see semantic_R_50_FPN.py (stuff classes 0-10 as the background set).
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling.backbone import BasicStem, BottleneckBlock, ResNet

from noisy_seg.modeling import NoisyDeepLabV3PlusHead, NoisySemanticSegmentor

from ..common.data.cityscapes_semantic import dataloader
from ..common.optim import SGD as optimizer
from ..common.semantic_schedules import lr_multiplier_poly as lr_multiplier
from ..common.train import train

MAX_ITER = 90000
NORM = "BN"  # detectron2's recipe: SyncBN across its 8 GPUs


def _stage(first_stride, num_blocks, c_in, bottleneck, c_out, dilation=1):
    return L(ResNet.make_stage)(
        block_class=BottleneckBlock,
        num_blocks=num_blocks,
        stride_per_block=[first_stride] + [1] * (num_blocks - 1),
        in_channels=c_in,
        bottleneck_channels=bottleneck,
        out_channels=c_out,
        norm=NORM,
        dilation=dilation,
    )


model = L(NoisySemanticSegmentor)(  # SemanticSegmentor + clean maps to the head (memorization curves)
    backbone=L(ResNet)(
        stem=L(BasicStem)(in_channels=3, out_channels=64, norm=NORM),
        stages=[
            _stage(1, 3, 64, 64, 256),
            _stage(2, 4, 256, 128, 512),
            _stage(2, 6, 512, 256, 1024),
            _stage(1, 3, 1024, 512, 2048, dilation=2),
        ],  # res5: stride 1, dilation 2 -> output stride 16
        out_features=["res2", "res5"],
        freeze_at=0,
    ),
    sem_seg_head=L(NoisyDeepLabV3PlusHead)(
        input_shape={"res2": L(ShapeSpec)(channels=256, stride=4), "res5": L(ShapeSpec)(channels=2048, stride=16)},
        project_channels=[48],
        aspp_dilations=[6, 12, 18],
        aspp_dropout=0.1,
        decoder_channels=[256, 256],
        common_stride=4,
        norm=NORM,
        train_size=(512, 1024),
        loss_type="hard_pixel_mining",
        ignore_value=255,
        num_classes=19,
        loss="ce",
        loss_kwargs={},
        loss_switch_iter=0,
    ),
    pixel_mean=[103.530, 116.280, 123.675],
    pixel_std=[1.0, 1.0, 1.0],
)

optimizer.lr = 0.01
optimizer.weight_decay = 1e-4
lr_multiplier.warmup_length = 1000 / MAX_ITER

train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
train.max_iter = MAX_ITER
train.eval_period = 10000
train.output_dir = "output/cityscapes/deeplab_v3_plus_R_50_os16"
