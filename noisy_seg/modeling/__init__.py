"""detectron2 modeling glue: registered ROI heads and semantic heads with configurable, noise-robust losses."""
from .fast_rcnn import NoisyFastRCNNOutputLayers
from .roi_heads import NoisyCascadeROIHeads, NoisyRes5ROIHeads, NoisyStandardROIHeads
from .sem_seg_heads import NoisyDeepLabV3PlusHead, NoisySemanticSegmentor, NoisySemSegFPNHead
from .sem_seg_loss import SemSegLoss

__all__ = ["NoisyFastRCNNOutputLayers", "NoisyStandardROIHeads", "NoisyCascadeROIHeads", "NoisyRes5ROIHeads",
           "NoisyDeepLabV3PlusHead", "NoisySemSegFPNHead", "NoisySemanticSegmentor", "SemSegLoss"]
