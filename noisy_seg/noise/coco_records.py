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

__all__ = ["annotation_arrays", "check_annotation_ids", "check_images", "int_problem"]

_INT64 = (-(1 << 63), (1 << 63) - 1)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _all_ints(values, *, bools: bool = False) -> bool:
    """Every value is an int (Python's or numpy's; `bools`: or a bool): no str "2" or float 2.0 that numpy would
    quietly turn into one. One pass over the types, for the fast path."""
    kinds = set(map(type, values))
    return all(kind is int or issubclass(kind, np.integer) or (bools and kind is bool) for kind in kinds)


def int_problem(value) -> str | None:
    """Why `value` is not a 64-bit int (None if it is): an id or category id of a COCO json."""
    if _is_int(value):
        return None if _INT64[0] <= value <= _INT64[1] else f"{value} does not fit in 64 bits"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) > _INT64[1]:
        # the json reader gives an integer beyond 64 bits as a float: say what is wrong, not "got float"
        return f"{value:.4g} does not fit in 64 bits (an integer this large is read from json as a float)"
    return f"must be an int, got {type(value).__name__} {value!r}"


def _id_problem(value, allow_str: bool) -> str | None:
    if value is None:
        return "is missing or null"
    if allow_str and isinstance(value, str) and value:
        return None
    problem = int_problem(value)
    if problem and allow_str and problem.startswith("must be an int"):
        return problem.replace("must be an int", "must be an int or a non-empty str", 1)
    return problem


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
                raise ValueError(
                    f"image id {image['id']!r} (images[{index}]): '{field}' must be a positive int, got {value!r}"
                )


def check_annotation_ids(annotations: Sequence) -> None:
    """Every annotation has a unique int "id" (detectron2's COCO loader requires it)."""
    try:
        ids = [a["id"] for a in annotations]
        if not _all_ints(ids):
            raise TypeError("an id is no int")  # a str "7" or a float 7.0 would be converted
        ids = np.asarray(ids, dtype=np.int64)
    except (KeyError, TypeError, ValueError, OverflowError):
        for index, annotation in enumerate(annotations):
            if not isinstance(annotation, Mapping):
                raise ValueError(f"annotations[{index}] must be a dict, got {type(annotation).__name__}") from None
            problem = _id_problem(annotation.get("id"), allow_str=False)
            if problem:
                raise ValueError(
                    f"annotations[{index}] (image_id {annotation.get('image_id')!r}): 'id' {problem}"
                ) from None
        raise
    unique, first, counts = np.unique(ids, return_index=True, return_counts=True)
    if unique.size != ids.size:
        repeated = int(unique[np.argmax(counts > 1)])
        positions = np.flatnonzero(ids == repeated)[:3].tolist()
        raise ValueError(
            f"annotation id {repeated} appears {int(counts.max())} times (annotations{positions}...); "
            "annotation ids must be unique"
        )


def annotation_arrays(annotations: Sequence, images: Sequence, category_ids: np.ndarray):
    """(image positions int64 (n,), contiguous labels int64 (n,), crowd bool (n,), boxes float64 (n, 4) XYWH).

    category_ids: the sorted dataset category ids (contiguous index = position).
    """
    n = len(annotations)
    image_position = {image["id"]: position for position, image in enumerate(images)}
    try:
        positions = np.fromiter((image_position[a["image_id"]] for a in annotations), dtype=np.int64, count=n)
        category_ids_given = [a["category_id"] for a in annotations]
        crowd = [a.get("iscrowd", 0) for a in annotations]
        if not (_all_ints(category_ids_given) and _all_ints(crowd, bools=True)):
            raise TypeError("a category_id or iscrowd is no int")  # a str "2" would be converted, and written back
        dataset_ids = np.asarray(category_ids_given, dtype=np.int64).reshape(n)
        crowd = np.asarray(crowd, dtype=np.int64).reshape(n)
        boxes = np.array([a["bbox"] for a in annotations])
        if boxes.size and boxes.dtype.kind not in "iuf":  # "30" would be converted; bools are no coordinates
            raise TypeError("a bbox holds no numbers")
        boxes = boxes.astype(np.float64).reshape(n, 4)
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
        raise ValueError(
            f"{_name(annotations[index], index)} has category_id {int(dataset_ids[index])} which is not "
            f"in 'categories' ({unknown.size} such annotations); fix the json or add the category"
        )
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
        problem = "is missing or null" if ann.get("category_id") is None else int_problem(ann["category_id"])
        if problem:
            raise ValueError(f"{name}: 'category_id' {problem}") from None
        crowd = ann.get("iscrowd", 0)
        if crowd not in (0, 1) or (not _is_int(crowd) and not isinstance(crowd, bool)):
            raise ValueError(f"{name}: 'iscrowd' must be 0 or 1, got {crowd!r}") from None
        box = ann.get("bbox")
        if (
            not isinstance(box, Sequence)
            or isinstance(box, (str, bytes))
            or len(box) != 4
            or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in box)
        ):
            raise ValueError(f"{name}: 'bbox' must be [x, y, width, height] finite numbers, got {box!r}") from None
        if box[2] < 0 or box[3] < 0:
            raise ValueError(f"{name}: 'bbox' has a negative width or height: {box!r}") from None
