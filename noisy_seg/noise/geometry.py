"""Conversions between COCO segmentation kinds: polygons, RLE dicts and binary masks.

Coordinates follow COCO/pycocotools: pixel (x, y) covers [x, x+1) x [y, y+1), polygons are
flat [x0, y0, x1, y1, ...] lists in that continuous space.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import pycocotools.mask as mask_util

__all__ = [
    "bbox_format_of",
    "bbox_of_segmentation",
    "fill_polygon",
    "mask_has_holes",
    "mask_to_exact_polygons",
    "mask_to_polygons",
    "mask_to_polygons_supersampled",
    "polygon_area",
    "polygon_arrays",
    "polygons_to_lists",
    "raster_window",
    "rasterize_polygons",
    "rle_to_mask",
    "segmentation_from_window",
    "segmentation_to_mask",
    "mask_to_rle",
    "segmentation_area",
    "segmentation_kind",
    "xyxy_boxes",
]

# Contours are traced on a mask supersampled by this factor so the polygon lies within
# 0.5 / factor px of the true pixel boundary (at factor 1 it would sit 0.5 px inside).
SUPERSAMPLE = 4
_MAX_SUPERSAMPLED_PIXELS = 16_000_000
# Staircase vertices of traced contours are merged within this tolerance (px, original scale).
CONTOUR_TOLERANCE = 0.25
DECIMALS = 2  # coordinates written back are rounded like COCO's own json


_BOX_MODE_FORMATS = {0: "xyxy", 1: "xywh"}  # detectron2 BoxMode.XYXY_ABS / XYWH_ABS


def bbox_format_of(annotation: Mapping) -> str:
    """'xyxy' or 'xywh' from detectron2's ``bbox_mode`` (absent: COCO json, 'xywh')."""
    mode = annotation.get("bbox_mode")
    if mode is None:
        return "xywh"
    if int(mode) not in _BOX_MODE_FORMATS:
        raise ValueError(f"bbox_mode {mode!r} is not supported; use XYXY_ABS or XYWH_ABS boxes")
    return _BOX_MODE_FORMATS[int(mode)]


def xyxy_boxes(boxes: np.ndarray, formats: Sequence[str]) -> np.ndarray:
    """Boxes (n, 4) in per-row 'xywh'/'xyxy' -> XYXY float64 (n, 4)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    is_xywh = np.asarray([f == "xywh" for f in formats], dtype=bool)
    boxes[is_xywh, 2:] += boxes[is_xywh, :2]
    return boxes


def segmentation_kind(segmentation) -> str:
    """'polygons', 'rle' or 'mask'; raises ValueError for anything else."""
    if isinstance(segmentation, np.ndarray):
        if segmentation.ndim != 2:
            raise ValueError(f"a mask segmentation must be (H, W), got shape {segmentation.shape}")
        return "mask"
    if isinstance(segmentation, Mapping):
        if "counts" not in segmentation or "size" not in segmentation:
            raise ValueError("an RLE segmentation must be a dict with 'counts' and 'size'")
        return "rle"
    if isinstance(segmentation, Sequence) and not isinstance(segmentation, (str, bytes)):
        if not all(
            isinstance(part, (Sequence, np.ndarray)) and not isinstance(part, (str, bytes)) for part in segmentation
        ):
            raise ValueError("a polygon segmentation must be a list of flat [x0, y0, x1, y1, ...] lists")
        return "polygons"
    raise ValueError(f"segmentation must be polygons, an RLE dict or an (H, W) mask, got {type(segmentation).__name__}")


def polygon_arrays(polygons) -> list[np.ndarray]:
    """Valid parts (even length, >= 3 points) of a COCO polygon list -> list of float64 (m, 2)."""
    parts = []
    for part in polygons:
        coords = np.asarray(part, dtype=np.float64).reshape(-1)
        if coords.size >= 6 and coords.size % 2 == 0:
            parts.append(coords.reshape(-1, 2))
    return parts


def polygons_to_lists(parts: Sequence[np.ndarray]) -> list[list[float]]:
    """(m, 2) arrays -> COCO flat lists, coordinates rounded to 2 decimals."""
    return [np.round(part, DECIMALS).reshape(-1).tolist() for part in parts]


def rasterize_polygons(parts: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """Union of polygons (m, 2) -> uint8 mask (height, width), pycocotools rasterization."""
    if not parts:
        return np.zeros((height, width), dtype=np.uint8)
    rles = mask_util.frPyObjects([part.reshape(-1).tolist() for part in parts], height, width)
    return np.ascontiguousarray(mask_util.decode(mask_util.merge(rles)))


def rle_to_mask(rle: Mapping) -> np.ndarray:
    """RLE dict (compressed str/bytes or uncompressed list counts) -> uint8 mask (H, W)."""
    height, width = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, list):
        rle = mask_util.frPyObjects(dict(rle), height, width)
    elif isinstance(counts, str):
        rle = {"size": [height, width], "counts": counts.encode("ascii")}
    return np.ascontiguousarray(mask_util.decode(rle))


def segmentation_to_mask(segmentation, height: int, width: int) -> np.ndarray | None:
    """bool mask (height, width) of a COCO segmentation (polygons, or RLE compressed or not), None when it has no
    valid polygon (as detectron2's loader keeps them: even length, >= 3 points) or is neither."""
    if isinstance(segmentation, list):
        parts = polygon_arrays(segmentation)
        return rasterize_polygons(parts, height, width).astype(bool) if parts else None
    if isinstance(segmentation, Mapping) and "counts" in segmentation:
        return rle_to_mask(
            {"size": segmentation.get("size", [height, width]), "counts": segmentation["counts"]}
        ).astype(bool)
    return None


def mask_to_rle(mask: np.ndarray, like: Mapping | None = None) -> dict:
    """uint8/bool mask (H, W) -> compressed RLE dict; counts as str unless ``like`` used bytes."""
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    if like is None or not isinstance(like.get("counts"), bytes):
        rle["counts"] = rle["counts"].decode("ascii")
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"]}


def mask_to_polygons(mask: np.ndarray, scale: int = 1, offset=(0.0, 0.0)) -> list[np.ndarray]:
    """Outer contours of a mask -> polygons (m, 2) in original coordinates.

    ``mask`` may be supersampled by ``scale``; ``offset`` (x, y) is added after scaling back
    (for masks of a crop). Holes are dropped: COCO polygons are a union of outer boundaries.
    """
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    parts = []
    for contour in contours:
        points = (contour.reshape(-1, 2).astype(np.float64) + 0.5) / scale + np.asarray(offset, dtype=np.float64)
        if points.shape[0] > 3:
            points = cv2.approxPolyDP(points.astype(np.float32).reshape(-1, 1, 2), CONTOUR_TOLERANCE, True)
            points = points.reshape(-1, 2).astype(np.float64)
        if points.shape[0] >= 3:
            parts.append(points)
    return parts


def mask_to_polygons_supersampled(mask: np.ndarray) -> list[np.ndarray]:
    """Outer contours of a full-image mask traced at up to 4x resolution -> polygons (m, 2)."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if ys.size == 0:
        return []
    crop = mask[ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1].astype(np.uint8)
    factor = _supersample_factor(*crop.shape)
    crop = np.repeat(np.repeat(crop, factor, axis=0), factor, axis=1)
    # one empty pixel of padding so contours touching the crop edge are traced outside it
    crop = np.pad(crop, 1)
    return mask_to_polygons(crop, factor, (xs[0] - 1.0 / factor, ys[0] - 1.0 / factor))


def _supersample_factor(crop_h: int, crop_w: int) -> int:
    for factor in (SUPERSAMPLE, 2):
        if crop_h * crop_w * factor * factor <= _MAX_SUPERSAMPLED_PIXELS:
            return factor
    return 1


def bbox_of_segmentation(segmentation, kind: str | None = None) -> list[float] | None:
    """Tight XYWH box of polygons (coordinates), RLE or mask (pixels); None when empty."""
    kind = kind or segmentation_kind(segmentation)
    if kind == "polygons":
        parts = polygon_arrays(segmentation)
        if not parts:
            return None
        points = np.concatenate(parts)
        low, high = points.min(axis=0), points.max(axis=0)
        return np.round([low[0], low[1], high[0] - low[0], high[1] - low[1]], DECIMALS).tolist()
    mask = rle_to_mask(segmentation) if kind == "rle" else np.asarray(segmentation)
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if ys.size == 0:
        return None
    return [float(xs[0]), float(ys[0]), float(xs[-1] + 1 - xs[0]), float(ys[-1] + 1 - ys[0])]


def segmentation_area(segmentation, image_hw) -> float:
    """Pixel area of polygons (rasterized at image_hw), RLE or mask."""
    kind = segmentation_kind(segmentation)
    if kind == "polygons":
        parts = polygon_arrays(segmentation)
        if not parts:
            return 0.0
        rles = mask_util.frPyObjects([part.reshape(-1).tolist() for part in parts], *image_hw)
        return float(mask_util.area(mask_util.merge(rles)))
    if kind == "rle":
        return float(rle_to_mask(segmentation).sum())
    return float(np.count_nonzero(segmentation))


# Exact encodings (the toy-data generator writes its annotations with these): no simplification, no rounding.


def polygon_area(points: np.ndarray) -> float:
    """Area of a simple polygon (m, 2) by the shoelace formula (continuous, not rasterized)."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def fill_polygon(points: np.ndarray, height: int, width: int, fraction_bits: int = 4) -> np.ndarray:
    """Rasterize a polygon (m, 2) with cv2 -> bool mask (height, width), pixel centres inside are set.

    Unlike the rest of this module, ``points`` are in pixel-index coordinates (the cv2 / Cityscapes
    convention: pixel (x, y) is centred on (x, y)); they are rounded to a 1 / 2**fraction_bits px grid,
    cv2's fixed-point vertices."""
    canvas = np.zeros((height, width), dtype=np.uint8)
    fixed = np.round(points * (1 << fraction_bits)).astype(np.int32)
    cv2.fillPoly(canvas, [fixed], 1, lineType=cv2.LINE_8, shift=fraction_bits)
    return canvas.astype(bool)


def mask_has_holes(mask: np.ndarray) -> bool:
    """True if the mask encloses background: COCO polygons (outer rings only) cannot express it."""
    _, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    return hierarchy is not None and bool((hierarchy[0][:, 3] >= 0).any())


def mask_to_exact_polygons(mask: np.ndarray) -> list[list[float]]:
    """COCO polygons [[x0, y0, x1, y1, ...], ...] of a non-empty (H, W) bool mask (one per connected part,
    >= 4 points each) whose pycocotools rasterization equals the mask (holes filled).

    Contours of the 2x nearest-upsampled mask run a quarter pixel inside each boundary pixel's
    edges, so every mask pixel centre is inside and every other centre outside; plain contours
    through pixel centres would lose about half of the boundary pixels."""
    _check_nonempty_bool_mask(mask)
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    crop = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.uint8)
    doubled = np.repeat(np.repeat(crop, 2, axis=0), 2, axis=1)
    contours, _ = cv2.findContours(doubled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    origin = np.array([cols[0], rows[0]], dtype=np.float64)
    polygons = []
    for contour in contours:
        # Every part is at least 2x2 after doubling, so each contour has >= 4 corners.
        points = (contour.reshape(-1, 2) + 0.5) / 2.0 + origin
        polygons.append(points.reshape(-1).tolist())
    return polygons


def _check_nonempty_bool_mask(mask: np.ndarray) -> None:
    if not isinstance(mask, np.ndarray) or mask.ndim != 2 or mask.dtype != bool:
        raise ValueError(
            f"mask must be a 2-D bool numpy array, got {type(mask).__name__} "
            f"{getattr(mask, 'dtype', '')} {getattr(mask, 'shape', '')}"
        )
    if not mask.any():
        raise ValueError("mask is empty; every annotation needs at least one pixel")


def raster_window(segmentation, image_hw, margin: int, kind: str | None = None):
    """A segmentation's uint8 raster in a window around it, ``margin`` px wider on each side (clipped to the image)
    -> (crop, (x0, y0)), or None when it has no pixel. An op that reaches at most ``margin`` px works the same on
    the window as on the whole image: the object stays off the window's edges except where they are the image's."""
    height, width = int(image_hw[0]), int(image_hw[1])
    kind = kind or segmentation_kind(segmentation)
    if kind == "polygons":
        parts = polygon_arrays(segmentation)
        if not parts:
            return None
        points = np.concatenate(parts)
        low, high = np.floor(points.min(axis=0)), np.ceil(points.max(axis=0))
    else:
        full = rle_to_mask(segmentation) if kind == "rle" else np.asarray(segmentation)
        if full.shape != (height, width):
            raise ValueError(f"segmentation is {full.shape[0]}x{full.shape[1]} but image_hw is {height}x{width}")
        ys, xs = np.flatnonzero(full.any(axis=1)), np.flatnonzero(full.any(axis=0))
        if ys.size == 0:
            return None
        low, high = np.array([xs[0], ys[0]], float), np.array([xs[-1] + 1, ys[-1] + 1], float)
    x0, y0 = int(max(0, low[0] - margin)), int(max(0, low[1] - margin))
    x1, y1 = int(min(width, high[0] + margin)), int(min(height, high[1] + margin))
    if x1 <= x0 or y1 <= y0:
        return None
    if kind == "polygons":
        crop = rasterize_polygons([part - (x0, y0) for part in parts], y1 - y0, x1 - x0)
    else:
        crop = np.ascontiguousarray(full[y0:y1, x0:x1], dtype=np.uint8)
    if not crop.any():
        return None
    return crop, (x0, y0)


def segmentation_from_window(crop: np.ndarray, origin, like, image_hw):
    """A window's new raster (uint8, from ``raster_window``) written back in the kind of ``like`` (polygons traced
    at up to 4x, RLE with like's counts type, a full-image mask of like's dtype) -> segmentation, or None when
    no pixel (or no polygon) remains."""
    if not crop.any():
        return None
    x0, y0 = int(origin[0]), int(origin[1])
    kind = segmentation_kind(like)
    if kind == "polygons":
        parts = [part + (x0, y0) for part in mask_to_polygons_supersampled(crop)]
        return polygons_to_lists(parts) if parts else None
    full = np.zeros((int(image_hw[0]), int(image_hw[1])), dtype=np.uint8)
    full[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]] = crop
    if kind == "rle":
        return mask_to_rle(full, like=like)
    return full.astype(np.asarray(like).dtype)
