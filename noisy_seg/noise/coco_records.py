"""The fields noise needs from a COCO instances dict, read fast, and one clear error for a malformed record.

Well-formed files take the vectorized path only. When it fails (a missing key, a null, a string where a number
belongs, a box of 3 numbers, an id too big for 64 bits...), a record-by-record pass finds the first bad record
and raises ValueError naming it and its field; that pass costs nothing on good data.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["annotation_arrays", "check_annotation_ids", "check_images"]

_INT64 = (-(1 << 63), (1 << 63) - 1)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _id_problem(value, allow_str: bool) -> str | None:
    if value is None:
        return "is missing or null"
    if allow_str and isinstance(value, str) and value:
        return None
    if not _is_int(value):
        return f"must be an int{' or a non-empty str' if allow_str else ''}, got {type(value).__name__} {value!r}"
    if not _INT64[0] <= value <= _INT64[1]:
        return f"{value} does not fit in 64 bits"
    return None


def check_images(images: Sequence) -> None:
    """Each image is a dict with a unique int (or str) "id" and positive int "height" and "width"."""
    seen = set()
    for index, image in enumerate(images):
        if not isinstance(image, Mapping):
            raise ValueError(f"images[{index}] must be a dict, got {type(image).__name__}")
        problem = _id_problem(image.get("id"), allow_str=True)
        if problem:
            raise ValueError(f"images[{index}]: 'id' {problem}")
        if image["id"] in seen:
            raise ValueError(f"images[{index}]: id {image['id']!r} appears twice in 'images'; image ids must be unique")
        seen.add(image["id"])
        for field in ("height", "width"):
            value = image.get(field)
            if not _is_int(value) or value <= 0:
                raise ValueError(f"image id {image['id']!r} (images[{index}]): '{field}' must be a positive int, "
                                 f"got {value!r}")


def check_annotation_ids(annotations: Sequence) -> None:
    """Every annotation has a unique int "id" (detectron2's COCO loader requires it)."""
    try:
        ids = np.asarray([a["id"] for a in annotations], dtype=np.int64)
    except (KeyError, TypeError, ValueError, OverflowError):
        for index, annotation in enumerate(annotations):
            if not isinstance(annotation, Mapping):
                raise ValueError(f"annotations[{index}] must be a dict, got {type(annotation).__name__}") from None
            problem = _id_problem(annotation.get("id"), allow_str=False)
            if problem:
                raise ValueError(f"annotations[{index}] (image_id {annotation.get('image_id')!r}): 'id' {problem}") \
                    from None
        raise
    unique, first, counts = np.unique(ids, return_index=True, return_counts=True)
    if unique.size != ids.size:
        repeated = int(unique[np.argmax(counts > 1)])
        positions = np.flatnonzero(ids == repeated)[:3].tolist()
        raise ValueError(f"annotation id {repeated} appears {int(counts.max())} times (annotations{positions}...); "
                         "annotation ids must be unique")


def annotation_arrays(annotations: Sequence, images: Sequence, category_ids: np.ndarray):
    """(image positions int64 (n,), contiguous labels int64 (n,), crowd bool (n,), boxes float64 (n, 4) XYWH).

    category_ids: the sorted dataset category ids (contiguous index = position).
    """
    n = len(annotations)
    image_position = {image["id"]: position for position, image in enumerate(images)}
    try:
        positions = np.fromiter((image_position[a["image_id"]] for a in annotations), dtype=np.int64, count=n)
        dataset_ids = np.fromiter((a["category_id"] for a in annotations), dtype=np.int64, count=n)
        crowd = np.fromiter((a.get("iscrowd", 0) for a in annotations), dtype=np.int64, count=n)
        boxes = np.array([a["bbox"] for a in annotations], dtype=np.float64).reshape(n, 4)
        if not (np.isfinite(boxes).all() and (boxes[:, 2:] >= 0).all() and ((crowd == 0) | (crowd == 1)).all()):
            raise ValueError("bad values")
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError):
        _explain(annotations, image_position)
        raise
    labels = np.searchsorted(category_ids, dataset_ids)
    labels = np.minimum(labels, category_ids.size - 1)
    unknown = np.flatnonzero(category_ids[labels] != dataset_ids)
    if unknown.size:
        index = int(unknown[0])
        raise ValueError(f"{_name(annotations[index], index)} has category_id {int(dataset_ids[index])} which is not "
                         f"in 'categories' ({unknown.size} such annotations); fix the json or add the category")
    return positions, labels.astype(np.int64), crowd.astype(bool), boxes


def _name(annotation: Mapping, index: int) -> str:
    ann_id = annotation.get("id")
    return f"annotation id {ann_id!r} (annotations[{index}])" if ann_id is not None else f"annotations[{index}]"


def _explain(annotations: Sequence, image_position: Mapping) -> None:
    """Raise ValueError for the first annotation whose fields cannot be read."""
    for index, ann in enumerate(annotations):
        if not isinstance(ann, Mapping):
            raise ValueError(f"annotations[{index}] must be a dict, got {type(ann).__name__}") from None
        name = _name(ann, index)
        if "image_id" not in ann or ann["image_id"] is None:
            raise ValueError(f"{name}: 'image_id' is missing or null") from None
        try:
            known = ann["image_id"] in image_position
        except TypeError:  # unhashable
            known = False
        if not known:
            raise ValueError(f"{name}: image_id {ann['image_id']!r} is not in 'images'") from None
        category = ann.get("category_id")
        if not _is_int(category) or not _INT64[0] <= category <= _INT64[1]:
            raise ValueError(f"{name}: 'category_id' must be an int category id, got {category!r}") from None
        crowd = ann.get("iscrowd", 0)
        if crowd not in (0, 1) or (not _is_int(crowd) and not isinstance(crowd, bool)):
            raise ValueError(f"{name}: 'iscrowd' must be 0 or 1, got {crowd!r}") from None
        box = ann.get("bbox")
        if (not isinstance(box, Sequence) or isinstance(box, (str, bytes)) or len(box) != 4
                or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in box)):
            raise ValueError(f"{name}: 'bbox' must be [x, y, width, height] finite numbers, got {box!r}") from None
        if box[2] < 0 or box[3] < 0:
            raise ValueError(f"{name}: 'bbox' has a negative width or height: {box!r}") from None
