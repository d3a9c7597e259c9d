"""Evaluation glue on top of detectron2's evaluators."""
from .coco_fast_eval import coco_fast_eval_available

__all__ = ["coco_fast_eval_available"]
