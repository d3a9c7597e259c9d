"""Data sets: the built-in toy-shapes generator (numpy only) and its detectron2 registration.

The registration lives in ``builtin`` and runs when ``noisy_seg.data`` is imported; importing this
package alone does not need detectron2.
"""

from .toy_shapes import (
    CITYSCAPES_CLASS_NAMES,
    CITYSCAPES_LABEL_IDS,
    CITYSCAPES_TRAIN_IDS,
    TOY_CLASSES,
    ToyObject,
    ToySample,
    cityscapes_maps,
    cityscapes_paths,
    coco_paths,
    ensure_toy_dataset,
    mask_bbox_xywh,
    mask_to_polygons,
    read_manifest,
    render_toy_sample,
    write_toy_dataset,
)

__all__ = [
    "CITYSCAPES_CLASS_NAMES",
    "CITYSCAPES_LABEL_IDS",
    "CITYSCAPES_TRAIN_IDS",
    "TOY_CLASSES",
    "ToyObject",
    "ToySample",
    "cityscapes_maps",
    "cityscapes_paths",
    "coco_paths",
    "ensure_toy_dataset",
    "mask_bbox_xywh",
    "mask_to_polygons",
    "read_manifest",
    "render_toy_sample",
    "write_toy_dataset",
]
