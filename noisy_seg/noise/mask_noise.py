"""Spatial annotation noise of COCO-N / Cityscapes-N (Grad, Kimhi et al., arXiv 2406.10891), drawn as
the benchmark's own script (``noise_annotations.py``, ``pick_noise``) draws it.

Per annotation ONE op is chosen with weights ``approximation p, localization p, rand p, none 1 - 3p``:
each op family has probability ``p`` and an annotation is corrupted with probability ``3p`` (60 / 75 /
90% at easy / medium / hard). Like the benchmark's, every op works on the annotation's raster at image
resolution:

  rand           -> ``dilate`` or ``erode`` (50/50) with a k x k kernel of ones
  localization   -> ``jitter``: outer contours (CHAIN_APPROX_SIMPLE), every vertex moved by N(0, sigma)
                    px, rounded, refilled
  approximation  -> ``simplify``: outer contours with >= 4 vertices simplified by shapely
                    (tolerance t, preserve_topology), truncated to ints, refilled

Determinism: "corrupted" (u < 3p), the family (a uniform third), dilate vs erode and each jitter
offset come from their own keyed streams, so results do not depend on batching and the corrupted
set (with its ops) is nested across p for one seed. Geometry keeps its kind: polygons are traced back
from the corrupted raster, RLE stays RLE, masks stay masks. An op that would leave no pixel (erosion of
a thin object, an annotation without a valid polygon) leaves the annotation untouched and is tagged
``"<op>_skipped"``. Upstream quirks not copied: the unseeded op choice, and an emptied mask written out.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import cv2
import numpy as np
from shapely.geometry import Polygon

from ._validation import check_non_negative, check_rate, check_seed
from .geometry import bbox_of_segmentation, raster_window, segmentation_from_window
from .keyed_random import as_key_array, keyed_standard_normal, keyed_uniform
from .class_noise import SymmetricNoise
from .presets import COCO_N_PRESETS, spatial_preset
from .registry import register_noise

__all__ = ["COCO_N_PRESETS", "OP_NAMES", "SKIPPED_NAMES", "SpatialNoise", "SpatialOps", "spatial_preset"]

# the op codes of every spatial noise model (COCO-N's here, the Markov boundary model's in boundary_noise.py)
OP_NAMES = ("clean", "dilate", "erode", "jitter", "simplify", "boundary")
CLEAN, DILATE, ERODE, JITTER, SIMPLIFY, BOUNDARY = range(len(OP_NAMES))
SKIPPED_NAMES = tuple(f"{name}_skipped" for name in OP_NAMES[1:])  # index op - 1
OP_FAMILIES = 3  # rand (dilate / erode), localization (jitter), approximation (simplify)

APPLY_STREAM = "spatial_apply"
OP_STREAM = "spatial_op"
MORPH_STREAM = "spatial_morph"
JITTER_STREAM = "spatial_jitter"
_JITTER_REACH = 8.0  # sigmas of jitter a window keeps around the object (beyond: P < 1e-15 per vertex)


def _xywh_to(bbox: list[float], bbox_format: str) -> list[float]:
    if bbox_format == "xywh":
        return bbox
    x, y, w, h = bbox
    return [x, y, x + w, y + h]


def _outer_contours(mask: np.ndarray) -> list[np.ndarray]:
    """The benchmark's ``mask_to_polygon``: external contours, CHAIN_APPROX_SIMPLE -> int32 (m, 2) each."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [contour.reshape(-1, 2) for contour in contours]


def _filled(parts: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Union of the filled int32 polygons -> uint8 mask (the benchmark fills each and takes the max)."""
    out = np.zeros(shape, dtype=np.uint8)
    for part in parts:
        if part.shape[0]:
            cv2.fillPoly(out, [part.astype(np.int32).reshape(-1, 1, 2)], 1)
    return out


class SpatialOps:
    """What the noise pipeline asks of a spatial noise model: ``choose_ops`` (an ``OP_NAMES`` code per annotation,
    keyed) and ``apply_op`` (one op on one segmentation, keeping its kind; None when no pixel would remain), or
    ``apply_ops`` for several annotations of one image (a model that does them at once overrides it)."""

    def choose_ops(self, image_keys, ann_keys) -> np.ndarray:
        raise NotImplementedError

    def apply_op(self, segmentation, op: int, image_hw, image_key, ann_key):
        raise NotImplementedError

    def apply_ops(self, segmentations, ops, image_hw, image_key, ann_keys) -> list:
        """``apply_op`` on annotations of ONE image -> a list (segmentation, or None when no pixel would remain)."""
        return [self.apply_op(s, op, image_hw, image_key, k) for s, op, k in zip(segmentations, ops, ann_keys)]

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
        return self.corrupt_many([segmentation], [bbox], image_hw, image_key, [ann_key], [op], [bbox_format])[0]

    def corrupt_many(self, segmentations, bboxes, image_hw, image_key, ann_keys, ops, bbox_formats) -> list:
        """``corrupt`` on annotations of ONE image (their ops applied by one ``apply_ops``) -> a list of
        (segmentation, bbox, op_name)."""
        chosen = [index for index, op in enumerate(ops) if op != CLEAN]
        corrupted = self.apply_ops(
            [segmentations[i] for i in chosen],
            [ops[i] for i in chosen],
            image_hw,
            image_key,
            [ann_keys[i] for i in chosen],
        )
        out = [(segmentation, bbox, OP_NAMES[CLEAN]) for segmentation, bbox in zip(segmentations, bboxes)]
        for index, new in zip(chosen, corrupted):
            if new is None:
                out[index] = (segmentations[index], bboxes[index], SKIPPED_NAMES[ops[index] - 1])
            else:
                out[index] = (new, _xywh_to(bbox_of_segmentation(new), bbox_formats[index]), OP_NAMES[ops[index]])
        return out


@dataclass(frozen=True, eq=False)
class SpatialNoise(SpatialOps):
    """COCO-N spatial corruption; ``p`` is each op family's probability (corrupted: 3p), so p <= 1/3."""

    p: float
    kernel: int
    jitter_sigma: float
    simplify_tolerance: float
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "p", check_rate(self.p, "p"))
        if self.p * OP_FAMILIES > 1.0 + 1e-12:
            raise ValueError(
                f"p must be <= 1/3, got {self.p}: p is the probability of EACH of the 3 op families "
                "(an annotation is corrupted with probability 3p, 0.6 / 0.75 / 0.9 for COCO-N easy / medium / hard)"
            )
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
        """COCO-N level ``easy``/``medium``/``hard``; ``p`` overrides the level's per-op probability."""
        level = spatial_preset(name)
        return cls(level.p if p is None else p, level.kernel, level.jitter_sigma, level.simplify_tolerance, seed)

    @property
    def corrupted_probability(self) -> float:
        """P(an annotation gets a spatial op) = 3p."""
        return min(1.0, OP_FAMILIES * self.p)

    def choose_ops(self, image_keys, ann_keys) -> np.ndarray:
        """Op code per annotation -> int8 (n,), indices into ``OP_NAMES`` (0 = clean)."""
        anns = as_key_array(ann_keys, "ann_keys")
        if anns.size == 0:
            return np.zeros(0, dtype=np.int8)
        corrupted = keyed_uniform(self.seed, image_keys, anns, APPLY_STREAM) < self.corrupted_probability
        family = np.minimum((keyed_uniform(self.seed, image_keys, anns, OP_STREAM) * OP_FAMILIES).astype(np.int8), 2)
        erode = keyed_uniform(self.seed, image_keys, anns, MORPH_STREAM) >= 0.5
        ops = np.where(family == 0, np.where(erode, ERODE, DILATE), np.where(family == 1, JITTER, SIMPLIFY))
        return np.where(corrupted, ops, CLEAN).astype(np.int8)

    def apply_op(self, segmentation, op: int, image_hw, image_key, ann_key):
        """Apply op code ``op`` to a segmentation -> same kind, or None if no pixel would remain."""
        if op not in (DILATE, ERODE, JITTER, SIMPLIFY):
            raise ValueError(f"op must be one of {DILATE, ERODE, JITTER, SIMPLIFY} (see OP_NAMES), got {op!r}")
        margin = int(math.ceil(_JITTER_REACH * self.jitter_sigma)) + 2 if op == JITTER else self.kernel + 1
        window = raster_window(segmentation, image_hw, margin)
        if window is None:
            return None
        crop, origin = window
        if op in (DILATE, ERODE):
            structuring = np.ones((self.kernel, self.kernel), dtype=np.uint8)
            new = (cv2.dilate if op == DILATE else cv2.erode)(crop, structuring, iterations=1)
        elif op == JITTER:
            new = self._localization(crop, image_key, ann_key)
        else:
            new = self._approximation(crop)
        return segmentation_from_window(new, origin, segmentation, image_hw)

    def _localization(self, mask: np.ndarray, image_key, ann_key) -> np.ndarray:
        """Gaussian offsets (sigma px) on every contour vertex, rounded, refilled."""
        contours = _outer_contours(mask)
        sizes = [contour.shape[0] for contour in contours]
        points = np.concatenate(contours).astype(np.float64)
        normals = keyed_standard_normal(self.seed, image_key, ann_key, JITTER_STREAM, np.arange(points.size))
        moved = np.round(points + self.jitter_sigma * normals.reshape(points.shape))
        return _filled(np.split(moved, np.cumsum(sizes)[:-1]), mask.shape)

    def _approximation(self, mask: np.ndarray) -> np.ndarray:
        """shapely's topology-preserving simplification of each contour (fewer than 4 vertices: dropped)."""
        parts = []
        for contour in _outer_contours(mask):
            if contour.shape[0] < 4:
                continue
            simplified = Polygon(contour).simplify(self.simplify_tolerance, preserve_topology=True)
            if isinstance(simplified, Polygon) and not simplified.is_empty:
                parts.append(np.asarray(simplified.exterior.coords).astype(np.int32))
        return _filled(parts, mask.shape)


def coco_n_noise(
    num_classes: int,
    preset: str | None = None,
    p: float | None = None,
    kernel: int | None = None,
    jitter_sigma: float | None = None,
    simplify_tolerance: float | None = None,
    class_rate: float | None = None,
    seed: int = 0,
) -> dict:
    """COCO-N / Cityscapes-N: a level's spatial noise (``preset``, ``p`` may override its per-op probability)
    or explicit p, kernel, jitter_sigma, simplify_tolerance; plus the benchmark's class noise uniform_mix_C
    (the redraw may return the true class) at ``class_rate`` (a level's own rate by default)."""
    explicit = {"kernel": kernel, "jitter_sigma": jitter_sigma, "simplify_tolerance": simplify_tolerance}
    given = sorted(name for name, value in explicit.items() if value is not None)
    if preset is not None:
        if given:
            raise ValueError(f"spatial noise takes either preset or {given}, not both")
        spatial = SpatialNoise.from_preset(preset, seed, p)
        class_rate = spatial_preset(preset).class_noise_rate if class_rate is None else class_rate
    else:
        missing = sorted(name for name, value in {"p": p, **explicit}.items() if value is None)
        if missing:
            raise ValueError(
                f"spatial noise needs preset or all of p, kernel, jitter_sigma, simplify_tolerance; missing {missing}"
            )
        spatial = SpatialNoise(p, kernel, jitter_sigma, simplify_tolerance, seed)
    # its uniform mix over one class changes nothing (rate * (K - 1) / K = 0): the spatial part alone
    class_noise = (
        SymmetricNoise(class_rate, num_classes, seed, include_true=True) if class_rate and num_classes > 1 else None
    )
    return {"spatial_noise": spatial, "class_noise": class_noise}


register_noise("spatial", "spatial_noise", coco_n_noise, short="coco_n", presets=COCO_N_PRESETS)
