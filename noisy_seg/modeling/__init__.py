"""detectron2 modeling glue: registered ROI heads, mask heads and semantic heads with configurable, noise-robust
losses, and a narrow ResNet-18/34 backbone for yacs configs."""

from .backbone import build_basic_resnet_fpn_backbone
from .fast_rcnn import NoisyFastRCNNOutputLayers
from .mask_head import NoiseTolerantMaskHead, NoisyMaskRCNNConvUpsampleHead, check_mask_loss
from .roi_heads import NoisyCascadeROIHeads, NoisyRes5ROIHeads, NoisyStandardROIHeads
from .sem_seg_heads import NoisyDeepLabV3PlusHead, NoisySemanticSegmentor, NoisySemSegFPNHead
from .sem_seg_loss import SemSegLoss

__all__ = [
    "build_basic_resnet_fpn_backbone",
    "NoisyFastRCNNOutputLayers",
    "NoisyMaskRCNNConvUpsampleHead",
    "NoiseTolerantMaskHead",
    "check_mask_loss",
    "NoisyStandardROIHeads",
    "NoisyCascadeROIHeads",
    "NoisyRes5ROIHeads",
    "NoisyDeepLabV3PlusHead",
    "NoisySemSegFPNHead",
    "NoisySemanticSegmentor",
    "SemSegLoss",
]
