"""The key of an annotation: derived from its own content, so noise does not depend on how it was loaded.

detectron2's COCO loader drops annotation ``"id"``s (unless asked to keep them) and its two Cityscapes
loaders order annotations differently, so neither ids nor positions identify an annotation across the
ways a dataset can be read. Its content does: the key hashes the clean contiguous class, the crowd flag
and the box (XYWH, float64 bit patterns), so ``tools/make_noisy_dataset.py`` and the on-the-fly mapper
draw the same noise for it whatever the loader, the order or the ids.

Exact duplicates (the same class, crowd flag and box in one image) are told apart by their rank among
themselves in the image's order, so they are noised independently instead of in lockstep.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

import numpy as np

from .geometry import bbox_format_of
from .keyed_random import _MASK64, _absorb, _absorb_int, _mix_int

__all__ = ["annotation_keys", "content_keys"]

_CONTENT_BASE = _mix_int(0x6E6F6973795F7365)  # separates content keys from other key spaces
_CLASS_SALT, _CROWD_SALT, _BOX_SALT, _DUPLICATE_SALT = 11, 12, 13, 17
_SMALL = 12  # up to this many annotations (one image, in the mapper) Python ints beat numpy's per-call cost
_FOUR_DOUBLES = struct.Struct("<4d")
_FOUR_WORDS = struct.Struct("<4Q")


def content_keys(labels, crowd, boxes_xywh, groups=None) -> np.ndarray:
    """Keys of annotations -> int64 (n,).

    labels: clean contiguous classes int (n,); crowd: bool (n,); boxes_xywh: float (n, 4) XYWH;
    groups: the image each annotation belongs to (n,) (None: all in one image), for the duplicate rule.
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4) + 0.0  # + 0.0 turns -0.0 into 0.0
    n = labels.size
    state = np.full(n, _CONTENT_BASE, dtype=np.uint64)
    state = _absorb(state, labels.view(np.uint64), _CLASS_SALT)
    state = _absorb(state, np.asarray(crowd, dtype=bool).reshape(-1).astype(np.uint64), _CROWD_SALT)
    bits = np.ascontiguousarray(boxes).view(np.uint64)
    for column in range(4):
        state = _absorb(state, np.ascontiguousarray(bits[:, column]), _BOX_SALT + column)
    keys = state.view(np.int64)
    return _separate_duplicates(keys, np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups))


def _separate_duplicates(keys: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The r-th repeat (r >= 1, in order) of a key within its group gets its rank mixed in."""
    if keys.size < 2:
        return keys
    order = np.lexsort((np.arange(keys.size), keys, groups))
    sorted_keys, sorted_groups = keys[order], groups[order]
    starts = np.r_[True, (sorted_keys[1:] != sorted_keys[:-1]) | (sorted_groups[1:] != sorted_groups[:-1])]
    if starts.all():
        return keys
    run_start = np.maximum.accumulate(np.where(starts, np.arange(keys.size), 0))
    ranks = np.empty(keys.size, dtype=np.int64)
    ranks[order] = np.arange(keys.size) - run_start
    repeated = np.flatnonzero(ranks > 0)
    keys = keys.copy()
    with np.errstate(over="ignore"):
        mixed = _absorb(keys[repeated].view(np.uint64), ranks[repeated].view(np.uint64), _DUPLICATE_SALT)
    keys[repeated] = mixed.view(np.int64)
    return keys


def _xywh(annotation: Mapping, index: int) -> list[float]:
    box = annotation.get("bbox")
    if box is None or len(box) != 4:
        raise ValueError(f"annotation {index} needs a 'bbox' of 4 numbers (its noise is keyed on it), got {box!r}")
    x0, y0, a, b = (float(v) for v in box)
    if bbox_format_of(annotation) == "xyxy":
        return [x0, y0, a - x0, b - y0]
    return [x0, y0, a, b]


def annotation_keys(annotations: Sequence[Mapping]) -> np.ndarray:
    """Keys of ONE image's annotations (dicts with contiguous ``category_id``, ``bbox``) -> int64 (n,)."""
    labels = [int(a["category_id"]) for a in annotations]
    crowd = [bool(a.get("iscrowd", 0)) for a in annotations]
    boxes = [_xywh(a, i) for i, a in enumerate(annotations)]
    if len(annotations) <= _SMALL:
        return _content_keys_small(labels, crowd, boxes)
    return content_keys(labels, crowd, np.asarray(boxes, dtype=np.float64).reshape(-1, 4))


def _content_keys_small(labels, crowd, boxes) -> np.ndarray:
    """`content_keys` for one image's few annotations with Python ints: the same bits as the array path."""
    keys, seen = [], {}
    for label, is_crowd, box in zip(labels, crowd, boxes):
        state = _absorb_int(_CONTENT_BASE, label & _MASK64, _CLASS_SALT)
        state = _absorb_int(state, int(is_crowd), _CROWD_SALT)
        words = _FOUR_WORDS.unpack(_FOUR_DOUBLES.pack(*(v + 0.0 for v in box)))
        for column, word in enumerate(words):
            state = _absorb_int(state, word, _BOX_SALT + column)
        rank = seen.get(state, 0)
        seen[state] = rank + 1
        keys.append(_absorb_int(state, rank, _DUPLICATE_SALT) if rank else state)
    return np.asarray(keys, dtype=np.uint64).view(np.int64)
