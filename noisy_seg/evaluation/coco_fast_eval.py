import importlib.util


def coco_fast_eval_available() -> bool:
    """COCOEvaluator's fast path needs detectron2's compiled `_C`; the pure-Python install lacks it."""
    return importlib.util.find_spec("detectron2._C") is not None
