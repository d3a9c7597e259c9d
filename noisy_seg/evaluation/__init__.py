"""Evaluation glue on top of detectron2's evaluators."""
from .cityscapes import CityscapesInstanceEvaluator
from .coco_fast_eval import coco_fast_eval_available

__all__ = ["CityscapesInstanceEvaluator", "coco_fast_eval_available"]
