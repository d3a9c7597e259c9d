# detectron2's SemanticSegmentor with NoisySemSegFPNHead on an FPN backbone (p2-p5): the one skeleton of the
# Semantic FPN configs (toy and Cityscapes); the loss is chosen by name (model.sem_seg_head.loss=...).
# NoisySemanticSegmentor is the stock model that also hands the head the clean maps of a noisy train mapper, for
# the memorization curves (memorization/*); without label noise it is SemanticSegmentor.
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec

from noisy_seg.modeling import NoisySemanticSegmentor, NoisySemSegFPNHead


def semantic_fpn(backbone, *, num_classes, conv_dims, norm, pixel_mean, pixel_std, ignore_value=255):
    return L(NoisySemanticSegmentor)(
        backbone=backbone,
        sem_seg_head=L(NoisySemSegFPNHead)(
            input_shape={
                f: L(ShapeSpec)(stride=s, channels="${....backbone.out_channels}")
                for f, s in zip(["p2", "p3", "p4", "p5"], [4, 8, 16, 32])
            },
            num_classes=num_classes,
            conv_dims=conv_dims,
            common_stride=4,
            norm=norm,
            ignore_value=ignore_value,
            loss="ce",
            loss_kwargs={},
            loss_switch_iter=0,
        ),
        pixel_mean=pixel_mean,
        pixel_std=pixel_std,
    )
