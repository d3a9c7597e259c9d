"""Evaluation glue on top of detectron2's evaluators."""

from .boundary_ap import BoundaryAPEvaluator
from .cityscapes import CityscapesInstanceEvaluator
from .coco_fast_eval import coco_fast_eval_available
from .sem_seg import SemSegEvaluator

__all__ = ["BoundaryAPEvaluator", "CityscapesInstanceEvaluator", "SemSegEvaluator", "coco_fast_eval_available"]
