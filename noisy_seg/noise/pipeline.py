"""The one noise algorithm for instance annotations: drop, then class noise, then spatial noise; crowd
annotations are never noised.

``NoisePipeline.decide`` takes any set of annotations as arrays (one image's, in the on-the-fly mapper; a whole
dataset's, or one image at a time for instance-dependent noise, in the offline tool) and every decision is a
keyed function of (seed, image key, annotation key), so the batching does not change the result.
``apply_to_annotations`` is the per-image form the mapper calls; ``coco.apply_noise_to_coco`` the per-dataset
form the offline tool calls. Call it on annotations BEFORE any augmentation, in the dataset's coordinates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .annotation_keys import annotation_keys
from .class_noise import ClassNoise
from .geometry import bbox_format_of, xyxy_boxes
from .instance_dependent import InstanceDependentNoise, instance_features
from .keyed_random import image_key as to_image_key
from .mask_noise import CLEAN, OP_NAMES, SKIPPED_NAMES, SpatialNoise
from .missing_annotations import MissingAnnotationNoise

__all__ = ["NoiseDecisions", "NoisePipeline", "OP_LABELS", "TAGS", "noise_tag"]

# op codes: OP_NAMES indices, then op + SKIPPED_OFFSET for an op that would have left no pixel
SKIPPED_OFFSET = len(OP_NAMES) - 1
OP_LABELS = (*OP_NAMES, *SKIPPED_NAMES)


def noise_tag(class_changed: bool, op_label: str) -> str:
    """'clean', 'class_flip', 'dilate', 'erode_skipped', ... or combinations like 'class_flip+jitter'."""
    parts = (["class_flip"] if class_changed else []) + ([op_label] if op_label != OP_NAMES[CLEAN] else [])
    return "+".join(parts) or "clean"


# TAGS[class_changed * len(OP_LABELS) + op code]: one lookup per annotation
TAGS = tuple(noise_tag(changed, op) for changed in (False, True) for op in OP_LABELS)


@dataclass(frozen=True)
class NoiseDecisions:
    """What happens to each of n annotations."""

    keep: np.ndarray  # bool (n,): not dropped
    labels: np.ndarray  # int64 (n,): noisy contiguous class
    ops: np.ndarray  # int8 (n,): spatial op code (OP_NAMES index; CLEAN for untouched)
    noisable: np.ndarray  # int64 indices of kept, non-crowd annotations (the ones noise may change)

    def tags(self, clean_labels: np.ndarray) -> list[str]:
        changed = (self.labels != clean_labels).astype(np.int64)
        return [TAGS[code] for code in (changed * len(OP_LABELS) + self.ops).tolist()]


@dataclass(frozen=True)
class NoisePipeline:
    """Drop, then class noise, then spatial noise; each part optional. Crowd annotations stay clean."""

    class_noise: ClassNoise | InstanceDependentNoise | None = None
    spatial_noise: SpatialNoise | None = None
    drop_noise: MissingAnnotationNoise | None = None

    @property
    def needs_image(self) -> bool:
        """True when the image pixels are needed (instance-dependent noise)."""
        return isinstance(self.class_noise, InstanceDependentNoise)

    @property
    def num_classes(self) -> int | None:
        return None if self.class_noise is None else self.class_noise.num_classes

    @property
    def is_clean(self) -> bool:
        return self.class_noise is None and self.spatial_noise is None and self.drop_noise is None

    def decide(
        self,
        labels: np.ndarray,
        crowd: np.ndarray,
        image_keys: np.ndarray,
        ann_keys: np.ndarray,
        features_of: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> NoiseDecisions:
        """Decisions for n annotations: clean contiguous labels int64 (n,), crowd bool (n,), image and annotation
        keys int64 (n,). features_of(indices) -> (m, S) instance features of those annotations (needed by
        instance-dependent noise only)."""
        n = labels.size
        keep = np.ones(n, dtype=bool)
        if self.drop_noise is not None and n:
            keep = self.drop_noise.keep_mask(image_keys, ann_keys) | crowd
        noisable = np.flatnonzero(keep & ~crowd)
        noisy = labels.copy()
        ops = np.zeros(n, dtype=np.int8)
        if noisable.size:
            keys = (labels[noisable], image_keys[noisable], ann_keys[noisable])
            if self.needs_image:
                noisy[noisable] = self.class_noise.apply(*keys, features_of(noisable))
            elif self.class_noise is not None:
                noisy[noisable] = self.class_noise.apply(*keys)
            if self.spatial_noise is not None:
                ops[noisable] = self.spatial_noise.choose_ops(image_keys[noisable], ann_keys[noisable])
        return NoiseDecisions(keep, noisy, ops, noisable)

    def corrupt(self, annotation: Mapping, image_hw, image_key: int, ann_key: int, op: int, bbox_format: str):
        """(segmentation, bbox, op code) of one annotation whose op was decided; the op code is op + SKIPPED_OFFSET
        (and the geometry unchanged) when the op would leave no pixel."""
        segmentation, bbox, op_label = self.spatial_noise.corrupt(
            annotation["segmentation"], annotation.get("bbox"), image_hw, image_key, ann_key, op, bbox_format
        )
        return segmentation, bbox, _op_code(op, op_label)

    def apply_to_annotations(self, annotations: Sequence[Mapping], image_id, image_hw=None, image=None) -> list[dict]:
        """Noisy copies of ONE image's annotations -> list of dicts (dropped ones left out).

        annotations: dicts with contiguous ``category_id``, ``bbox`` (+ ``bbox_mode``) and optionally
        ``iscrowd``, ``segmentation``; image_id: the dataset's image id (int or str); image_hw (H, W): needed for
        spatial noise; image (H, W, 3) uint8 as decoded for training (BGR): needed for instance-dependent noise.
        Each output dict also carries ``clean_category_id`` and a ``noise`` tag, and one whose mask the spatial noise
        changed its ``clean_segmentation`` (the mapper's clean masks for the mask memorization curve).
        """
        keys = annotation_keys(annotations)
        image_keys = np.full(keys.size, to_image_key(image_id), dtype=np.int64)
        labels = np.fromiter((a["category_id"] for a in annotations), dtype=np.int64, count=keys.size)
        crowd = np.fromiter((bool(a.get("iscrowd", 0)) for a in annotations), dtype=bool, count=keys.size)

        def features_of(indices: np.ndarray) -> np.ndarray:
            if image is None:
                raise ValueError("instance-dependent noise needs image=(H, W, 3) uint8 pixels of the image")
            boxes = [annotations[i]["bbox"] for i in indices.tolist()]
            formats = [bbox_format_of(annotations[i]) for i in indices.tolist()]
            return instance_features(image, xyxy_boxes(boxes, formats), self.class_noise.feature_size)

        decisions = self.decide(labels, crowd, image_keys, keys, features_of)
        clean, noisy, ops = labels.tolist(), decisions.labels.tolist(), decisions.ops.tolist()
        kept = np.flatnonzero(decisions.keep).tolist()  # lists, not numpy scalars: this runs per image
        geometry = self._corrupt_image(annotations, [i for i in kept if ops[i] != CLEAN], ops, image_hw, image_id, keys)
        result = []
        for index in kept:
            ann = dict(annotations[index])
            op = ops[index]
            if index in geometry:
                ann["segmentation"], ann["bbox"], op = geometry[index]
                if op < len(OP_NAMES):  # the geometry changed (not an op that would have left no pixel)
                    ann["clean_segmentation"] = annotations[index]["segmentation"]
            ann["clean_category_id"] = clean[index]
            ann["category_id"] = noisy[index]
            ann["noise"] = TAGS[(noisy[index] != clean[index]) * len(OP_LABELS) + op]
            result.append(ann)
        return result

    def _corrupt_image(self, annotations, chosen: list, ops: list, image_hw, image_id, keys) -> dict:
        """{index: (segmentation, bbox, op code)} of the annotations ``chosen`` for a spatial op, all of one image
        in one ``corrupt_many`` call (a model may walk them at once); op codes as ``corrupt`` gives them."""
        if not chosen:
            return {}
        if image_hw is None:
            raise ValueError("spatial noise needs image_hw=(height, width) of the image")
        for index in chosen:
            if "segmentation" not in annotations[index]:
                raise ValueError(f"annotation {index} has no 'segmentation' for spatial noise")
        done = self.spatial_noise.corrupt_many(
            [annotations[i]["segmentation"] for i in chosen],
            [annotations[i].get("bbox") for i in chosen],
            image_hw,
            to_image_key(image_id),
            [int(keys[i]) for i in chosen],
            [ops[i] for i in chosen],
            [bbox_format_of(annotations[i]) for i in chosen],
        )
        return {
            index: (segmentation, bbox, _op_code(ops[index], op_label))
            for index, (segmentation, bbox, op_label) in zip(chosen, done)
        }


def _op_code(op: int, op_label: str) -> int:
    """The op code of a spatial op the model applied (``op_label`` an OP_NAMES name) or skipped (a _skipped name)."""
    return op if op_label in OP_NAMES else op + SKIPPED_OFFSET
