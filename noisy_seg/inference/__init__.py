"""A trained model over a dataset, in one home: the model built with its checkpoint loaded strictly and checked
against the dataset once (`model.py`), detectron2's test loader over the records (`loop.py`), the semantic
predictions (`semantic.py`) and the instance predictions on given boxes and detections from one backbone pass
(`instance.py`). Label correction, label-error finding (instance and semantic) and pseudo labels all predict
through here."""

from .loop import first_process, gather, predict_dataset
from .model import (
    build_model,
    check_fits,
    check_mask_head,
    configured_classes,
    configured_mask_head,
    load_weights,
    mapper_settings,
    on_cpu,
    predicted_classes,
)

__all__ = [
    "build_model",
    "check_fits",
    "check_mask_head",
    "configured_classes",
    "configured_mask_head",
    "first_process",
    "gather",
    "load_weights",
    "mapper_settings",
    "on_cpu",
    "predict_dataset",
    "predicted_classes",
]
