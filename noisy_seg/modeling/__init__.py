"""detectron2 modeling glue: registered ROI heads with configurable, noise-robust losses."""
from .fast_rcnn import NoisyFastRCNNOutputLayers
from .roi_heads import NoisyCascadeROIHeads, NoisyStandardROIHeads

__all__ = ["NoisyFastRCNNOutputLayers", "NoisyStandardROIHeads", "NoisyCascadeROIHeads"]
