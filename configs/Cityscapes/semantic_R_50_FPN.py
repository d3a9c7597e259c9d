# Semantic FPN R50 on Cityscapes fine (detectron2's SemanticSegmentor + SemSegFPNHead recipe) with
# NoisySemSegFPNHead: the loss is chosen by name (model.sem_seg_head.loss=...), plain CE by default.
# ImageNet init, 90k iterations of 8 crops 512x1024, the semantic seeds' poly schedule (power 0.9, floor 0.02)
# after a 1000-iteration warmup.
# Dense combination on Cityscapes: model.sem_seg_head.loss=combination "model.sem_seg_head.loss_kwargs=
# {bg_index:[0,1,2,3,4,5,6,7,8,9,10]}": the 11 stuff classes (road .. sky) play the background of Yang et al.'s
# split (is this pixel an object?), where CE's fast fitting is wanted and stuff/thing confusions are rare;
# the 8 thing classes (person .. bicycle) are the foreground, where class noise lives (person/rider,
# car/truck/bus, motorcycle/bicycle) and RCE is robust to it.
from ..common.data.cityscapes_semantic import dataloader
from ..common.models.mask_rcnn_fpn import model as _mask_rcnn
from ..common.models.semantic_fpn import semantic_fpn
from ..common.optim import SGD as optimizer
from ..common.semantic_schedules import lr_multiplier_poly as lr_multiplier
from ..common.train import train

MAX_ITER = 90000

model = semantic_fpn(
    _mask_rcnn.backbone,
    num_classes=19,
    conv_dims=128,
    norm="GN",
    pixel_mean=_mask_rcnn.pixel_mean,
    pixel_std=_mask_rcnn.pixel_std,
)
model.backbone.bottom_up.freeze_at = 2

optimizer.lr = 0.01
optimizer.weight_decay = 1e-4
lr_multiplier.warmup_length = 1000 / MAX_ITER

train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
# detectron2's model-zoo ImageNet weights are a pickle: noisy_seg loads one only with
# train.allow_pickle_checkpoints=True on the command line.
train.max_iter = MAX_ITER
train.eval_period = 10000
train.output_dir = "output/cityscapes/semantic_R_50_FPN"
