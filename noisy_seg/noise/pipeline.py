"""Noise for the annotations of ONE image: what an on-the-fly DatasetMapper calls.

The offline tool (``coco_io.apply_noise_to_coco``) runs the same models with the same keys on
all annotations at once, so both produce identical noisy labels and geometry for one seed.
Call it on the image's annotations BEFORE any augmentation, in the dataset's original
coordinates. Annotations are keyed by their content (``annotation_keys``), not by id or order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .annotation_keys import annotation_keys
from .class_noise import ClassNoise
from .instance_dependent import InstanceDependentNoise, instance_features
from .geometry import bbox_format_of, xyxy_boxes
from .keyed_random import image_key as to_image_key
from .mask_noise import CLEAN, OP_NAMES, SpatialNoise
from .missing_annotations import MissingAnnotationNoise

__all__ = ["NoisePipeline", "noise_tag"]


def noise_tag(class_changed: bool, spatial_op: str) -> str:
    """'clean', 'class_flip', 'dilate', ... or combinations like 'class_flip+jitter'."""
    parts = (["class_flip"] if class_changed else []) + ([spatial_op] if spatial_op != OP_NAMES[CLEAN] else [])
    return "+".join(parts) or "clean"


@dataclass(frozen=True)
class NoisePipeline:
    """Drop, then class noise, then spatial noise; each part optional. Crowd annotations stay clean."""

    class_noise: ClassNoise | InstanceDependentNoise | None = None
    spatial_noise: SpatialNoise | None = None
    drop_noise: MissingAnnotationNoise | None = None

    def __post_init__(self):
        if self.class_noise is not None and not isinstance(self.class_noise, (ClassNoise, InstanceDependentNoise)):
            raise ValueError(
                f"class_noise must be a ClassNoise or InstanceDependentNoise, got {type(self.class_noise).__name__}"
            )
        if self.spatial_noise is not None and not isinstance(self.spatial_noise, SpatialNoise):
            raise ValueError(f"spatial_noise must be a SpatialNoise, got {type(self.spatial_noise).__name__}")
        if self.drop_noise is not None and not isinstance(self.drop_noise, MissingAnnotationNoise):
            raise ValueError(f"drop_noise must be a MissingAnnotationNoise, got {type(self.drop_noise).__name__}")

    @property
    def needs_image(self) -> bool:
        """True when the image pixels are needed (instance-dependent noise)."""
        return isinstance(self.class_noise, InstanceDependentNoise)

    @property
    def num_classes(self) -> int | None:
        return None if self.class_noise is None else self.class_noise.num_classes

    def apply_to_annotations(self, annotations: Sequence[Mapping], image_id, image_hw=None, image=None) -> list[dict]:
        """Noisy copies of one image's annotations -> list of dicts (dropped ones left out).

        annotations: dicts with contiguous ``category_id``, ``bbox`` (+ ``bbox_mode``) and optionally
        ``iscrowd``, ``segmentation``; image_id: the dataset's image id (int or
        str); image_hw (H, W): needed for spatial noise; image (H, W, 3) uint8 as decoded for
        training (BGR): needed for instance-dependent noise. Each output dict also carries
        ``clean_category_id`` and a ``noise`` tag.
        """
        if not isinstance(annotations, Sequence):
            raise ValueError(f"annotations must be a list of dicts, got {type(annotations).__name__}")
        keys = annotation_keys(annotations)
        key = to_image_key(image_id)
        crowd = np.asarray([bool(a.get("iscrowd", 0)) for a in annotations], dtype=bool)
        keep = np.ones(len(annotations), dtype=bool)
        if self.drop_noise is not None:
            keep = self.drop_noise.keep_mask(key, keys) | crowd
        noisable = np.flatnonzero(keep & ~crowd)
        labels = np.asarray([a["category_id"] for a in annotations], dtype=np.int64).reshape(-1)
        noisy = labels.copy()
        if self.class_noise is not None and noisable.size:
            noisy[noisable] = self._class_noise(annotations, noisable, labels, key, keys, image)
        ops = np.zeros(len(annotations), dtype=np.int8)
        if self.spatial_noise is not None and noisable.size:
            ops[noisable] = self.spatial_noise.choose_ops(key, keys[noisable])

        result = []
        for index in np.flatnonzero(keep).tolist():
            ann = dict(annotations[index])
            op_name = OP_NAMES[CLEAN]
            if ops[index] != CLEAN:
                if image_hw is None:
                    raise ValueError("spatial noise needs image_hw=(height, width) of the image")
                if "segmentation" not in ann:
                    raise ValueError(f"annotation {index} has no 'segmentation' for spatial noise")
                ann["segmentation"], ann["bbox"], op_name = self.spatial_noise.corrupt(
                    ann["segmentation"],
                    ann.get("bbox"),
                    image_hw,
                    key,
                    keys[index],
                    int(ops[index]),
                    bbox_format_of(ann),
                )
            ann["clean_category_id"] = int(labels[index])
            ann["category_id"] = int(noisy[index])
            ann["noise"] = noise_tag(bool(noisy[index] != labels[index]), op_name)
            result.append(ann)
        return result

    def _class_noise(self, annotations, noisable, labels, key, keys, image) -> np.ndarray:
        if not isinstance(self.class_noise, InstanceDependentNoise):
            return self.class_noise.apply(labels[noisable], key, keys[noisable])
        if image is None:
            raise ValueError("instance-dependent noise needs image=(H, W, 3) uint8 pixels of the image")
        boxes = xyxy_boxes(
            [annotations[i]["bbox"] for i in noisable], [bbox_format_of(annotations[i]) for i in noisable]
        )
        features = instance_features(image, boxes, self.class_noise.feature_size)
        return self.class_noise.apply(labels[noisable], key, keys[noisable], features)
