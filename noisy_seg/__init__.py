"""noisy_seg: learning instance and semantic segmentation from noisy labels, on detectron2.

`noisy_seg.noise` (numpy) and `noisy_seg.losses` (torch) need no detectron2; the detectron2 glue lives in
`noisy_seg.data`, `noisy_seg.modeling`, `noisy_seg.evaluation` and `noisy_seg.engine`.
"""

__version__ = "0.1.0"
