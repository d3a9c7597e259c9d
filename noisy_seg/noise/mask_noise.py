"""Spatial annotation noise of COCO-N / Cityscapes-N (Grad, Kimhi et al., arXiv 2406.10891).

With probability ``p`` an annotation gets ONE corruption, chosen uniformly among
  morphology (then dilate or erode, 50/50, k x k kernel), vertex jitter (sigma px), and
  polygon simplification (Douglas-Peucker, tolerance px),
so dilate and erode each have probability p/6, jitter and simplify p/3. Each decision and each
jitter offset comes from its own keyed stream, so results do not depend on batching and the
corrupted set is nested across p for one seed.

Geometry keeps its kind: polygons stay polygons (morphology is done on a supersampled raster
and traced back), RLE stays RLE, masks stay masks. Invalid polygon parts (< 3 points) are
dropped from corrupted annotations, as detectron2 drops them on loading. An op that would
leave no valid geometry (erosion of a thin object, an annotation without a valid polygon)
leaves it untouched and is tagged ``"<op>_skipped"`` (e.g. ``"erode_skipped"``).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import cv2
import numpy as np

from ._validation import check_non_negative, check_rate, check_seed
from .geometry import (
    bbox_of_segmentation,
    mask_to_polygons_supersampled,
    mask_to_rle,
    morph_polygons,
    polygon_arrays,
    polygons_to_lists,
    rasterize_polygons,
    rle_to_mask,
    segmentation_kind,
)
from .keyed_random import as_key_array, keyed_standard_normal, keyed_uniform
from .presets import COCO_N_PRESETS, spatial_preset

__all__ = ["COCO_N_PRESETS", "OP_NAMES", "SKIPPED_NAMES", "SpatialNoise", "spatial_preset"]

OP_NAMES = ("clean", "dilate", "erode", "jitter", "simplify")
CLEAN, DILATE, ERODE, JITTER, SIMPLIFY = range(len(OP_NAMES))
SKIPPED_NAMES = tuple(f"{name}_skipped" for name in OP_NAMES[1:])  # index op - 1

APPLY_STREAM = "spatial_apply"
OP_STREAM = "spatial_op"
MORPH_STREAM = "spatial_morph"
JITTER_STREAM = "spatial_jitter"


def _check_image_hw(image_hw) -> tuple[int, int]:
    if (
        not isinstance(image_hw, (tuple, list))
        or len(image_hw) != 2
        or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in image_hw)
    ):
        raise ValueError(f"image_hw must be (height, width) positive ints, got {image_hw!r}")
    return int(image_hw[0]), int(image_hw[1])


def _xywh_to(bbox: list[float], bbox_format: str) -> list[float]:
    if bbox_format == "xywh":
        return bbox
    x, y, w, h = bbox
    return [x, y, x + w, y + h]


@dataclass(frozen=True, eq=False)
class SpatialNoise:
    """Per-annotation spatial corruption with probability ``p`` (see module docstring)."""

    p: float
    kernel: int
    jitter_sigma: float
    simplify_tolerance: float
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "p", check_rate(self.p, "p"))
        if isinstance(self.kernel, bool) or not isinstance(self.kernel, numbers.Integral) or self.kernel < 1:
            raise ValueError(f"kernel must be a positive int (e.g. 3 for a 3x3 kernel), got {self.kernel!r}")
        object.__setattr__(self, "kernel", int(self.kernel))
        object.__setattr__(self, "jitter_sigma", check_non_negative(self.jitter_sigma, "jitter_sigma"))
        object.__setattr__(
            self, "simplify_tolerance", check_non_negative(self.simplify_tolerance, "simplify_tolerance")
        )
        object.__setattr__(self, "seed", check_seed(self.seed))

    @classmethod
    def from_preset(cls, name: str, seed: int = 0, p: float | None = None) -> SpatialNoise:
        """COCO-N level ``easy``/``medium``/``hard``; ``p`` overrides the level's probability."""
        level = spatial_preset(name)
        return cls(level.p if p is None else p, level.kernel, level.jitter_sigma, level.simplify_tolerance, seed)

    def choose_ops(self, image_keys, ann_keys) -> np.ndarray:
        """Op code per annotation -> int8 (n,), indices into ``OP_NAMES`` (0 = clean)."""
        anns = as_key_array(ann_keys, "ann_keys")
        if anns.size == 0:
            return np.zeros(0, dtype=np.int8)
        corrupted = keyed_uniform(self.seed, image_keys, anns, APPLY_STREAM) < self.p
        family = np.minimum((keyed_uniform(self.seed, image_keys, anns, OP_STREAM) * 3).astype(np.int8), 2)
        erode = keyed_uniform(self.seed, image_keys, anns, MORPH_STREAM) >= 0.5
        ops = np.where(family == 0, np.where(erode, ERODE, DILATE), np.where(family == 1, JITTER, SIMPLIFY))
        return np.where(corrupted, ops, CLEAN).astype(np.int8)

    def apply_one(self, segmentation, bbox, image_hw, image_key, ann_key, bbox_format: str = "xywh"):
        """Noise one annotation -> (segmentation, bbox, op_name).

        segmentation: COCO polygons, RLE dict or (H, W) mask; bbox in ``bbox_format`` ("xywh"
        for COCO json, "xyxy" for detectron2 XYXY_ABS); image_hw (H, W). The returned bbox is
        recomputed from the new geometry (same format); clean annotations come back unchanged.
        """
        op = int(self.choose_ops(image_key, np.asarray([ann_key]).reshape(-1))[0])
        return self.corrupt(segmentation, bbox, image_hw, image_key, ann_key, op, bbox_format)

    def corrupt(self, segmentation, bbox, image_hw, image_key, ann_key, op: int, bbox_format: str = "xywh"):
        """``apply_one`` with the op code already chosen (by ``choose_ops`` on many annotations)."""
        if bbox_format not in ("xywh", "xyxy"):
            raise ValueError(f"bbox_format must be 'xywh' or 'xyxy', got {bbox_format!r}")
        if op == CLEAN:
            return segmentation, bbox, OP_NAMES[CLEAN]
        corrupted = self.apply_op(segmentation, op, image_hw, image_key, ann_key)
        if corrupted is None:
            return segmentation, bbox, SKIPPED_NAMES[op - 1]
        new_bbox = bbox_of_segmentation(corrupted)
        return corrupted, _xywh_to(new_bbox, bbox_format), OP_NAMES[op]

    def apply_op(self, segmentation, op: int, image_hw, image_key, ann_key):
        """Apply op code ``op`` to a segmentation -> same kind, or None if nothing would remain."""
        height, width = _check_image_hw(image_hw)
        kind = segmentation_kind(segmentation)
        if op not in (DILATE, ERODE, JITTER, SIMPLIFY):
            raise ValueError(f"op must be one of {DILATE, ERODE, JITTER, SIMPLIFY} (see OP_NAMES), got {op!r}")
        if kind == "polygons":
            parts = polygon_arrays(segmentation)
            if op in (DILATE, ERODE):
                parts = morph_polygons(parts, (height, width), self.kernel, dilate=op == DILATE)
            elif op == JITTER:
                parts = self._jitter(parts, (height, width), image_key, ann_key)
            else:
                parts = self._simplify(parts)
            return polygons_to_lists(parts) if parts else None

        mask = rle_to_mask(segmentation) if kind == "rle" else np.asarray(segmentation)
        if mask.shape != (height, width):
            raise ValueError(f"segmentation is {mask.shape[0]}x{mask.shape[1]} but image_hw is {height}x{width}")
        if op in (DILATE, ERODE):
            structuring = np.ones((self.kernel, self.kernel), dtype=np.uint8)
            morph = cv2.dilate if op == DILATE else cv2.erode
            new_mask = morph(mask.astype(np.uint8), structuring)
        else:
            parts = mask_to_polygons_supersampled(mask)
            parts = self._jitter(parts, (height, width), image_key, ann_key) if op == JITTER else self._simplify(parts)
            new_mask = rasterize_polygons(parts, height, width)
        if not new_mask.any():
            return None
        if kind == "rle":
            return mask_to_rle(new_mask, like=segmentation)
        return new_mask.astype(mask.dtype)

    def _jitter(self, parts, image_hw, image_key, ann_key) -> list[np.ndarray]:
        """Gaussian offsets (sigma px) on every vertex coordinate, clipped to the image."""
        if not parts:
            return []
        sizes = [part.shape[0] for part in parts]
        points = np.concatenate(parts)
        normals = keyed_standard_normal(self.seed, image_key, ann_key, JITTER_STREAM, np.arange(points.size))
        points = points + self.jitter_sigma * normals.reshape(points.shape)
        points[:, 0] = np.clip(points[:, 0], 0, image_hw[1])
        points[:, 1] = np.clip(points[:, 1], 0, image_hw[0])
        return np.split(points, np.cumsum(sizes)[:-1])

    def _simplify(self, parts) -> list[np.ndarray]:
        """Douglas-Peucker per part; a part that would drop below 3 points is kept as is."""
        simplified = []
        for part in parts:
            approx = cv2.approxPolyDP(part.astype(np.float32).reshape(-1, 1, 2), self.simplify_tolerance, True)
            approx = approx.reshape(-1, 2).astype(np.float64)
            simplified.append(approx if approx.shape[0] >= 3 else part)
        return simplified
