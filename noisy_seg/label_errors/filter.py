"""Which annotations are label issues, ranked: a wrong class (with the class suggested instead), a bad mask, or an
object the annotations miss (cleanlab.filter's question, for instance segmentation).

    issues = find_label_issues(labels, pred_probs, method="confident_learning", mask_iou=mask_iou,
                               detection_scores=scores, detection_classes=classes, detection_best_iou=best_iou)

Inputs are plain arrays over the N scored annotations (`labels`, `pred_probs` as in rank.py, `mask_iou`) and the
D confident detections of the model (`detection_*`, `best_match_iou` gives their overlap with the annotations).
Issue types:

- "class": decided by `method`: "confident_learning" is cleanlab's `cleanlab.filter.find_label_issues(labels,
  pred_probs)` (its default, prune_by_noise_rate); "self_confidence", "normalized_margin" and "gmm" flag the
  annotations whose score (rank.py) is below `threshold` (default 0.5: for the margin, another class is more
  probable than the given one; for the GMM, DivideMix's "noisy"). Suggested class: the most probable other class.
- "mask": the mask IoU is below `mask_threshold`.
- "missing": a detection scored at least `score_threshold` whose box has IoU < `match_iou` with every annotation
  of its image.

Each issue is a dict {"type", "index" (row of the annotation arrays; of the detection arrays for "missing"),
"given_class" (None for "missing"), "suggested_class" (None for "mask"), "score"}; "score" is a quality in
[0, 1], lower is worse: the method's score for "class" (self-confidence under confident learning, as cleanlab
ranks its issues), the IoU for "mask", 1 - the detection score for "missing". The list is sorted by it, so it
mixes types on one scale that is comparable only within a type: filter by "type" to compare like with like.
"""

from __future__ import annotations

from typing import Optional

import cleanlab.filter as _cleanlab_filter
import numpy as np
from cleanlab.filter import find_label_issues as _cleanlab_find_label_issues

from ..utils.errors import UserInputError
from ._validation import check_fraction, check_labels_and_probs, check_vector
from .rank import SCORE_METHODS, _best_other_class, _quality_scores, mask_quality_scores

__all__ = [
    "CLASS_METHODS",
    "ISSUE_TYPES",
    "best_match_iou",
    "box_iou",
    "find_class_issues",
    "find_label_issue_table",
    "find_label_issues",
    "find_mask_issues",
    "find_missing_annotations",
    "issue_list",
]

CLASS_METHODS = ("self_confidence", "normalized_margin", "confident_learning", "gmm")
ISSUE_TYPES = ("class", "mask", "missing")
DEFAULT_THRESHOLD = 0.5


def find_class_issues(
    labels, pred_probs, *, method: str = "self_confidence", threshold: Optional[float] = None
) -> tuple[np.ndarray, np.ndarray]:
    """(is_issue (N,) bool, score (N,)) for the given classes: see the module doc for `method` and `threshold`
    (None: 0.5; confident learning takes none, cleanlab decides)."""
    threshold = _check_method(method, threshold)
    return _class_issues(*check_labels_and_probs(labels, pred_probs), method, threshold)


def find_mask_issues(mask_iou, *, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """(N,) bool: the mask IoU is below `threshold` (NaN, no mask: never)."""
    threshold = check_fraction("mask_threshold", threshold)
    return mask_quality_scores(mask_iou) < threshold  # NaN compares False


def box_iou(boxes_a, boxes_b) -> np.ndarray:
    """(A, B) IoU of XYWH boxes (COCO's format)."""
    return _box_iou(_boxes("boxes_a", boxes_a), _boxes("boxes_b", boxes_b))


def _box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    a, b = _xyxy(boxes_a), _xyxy(boxes_b)
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    intersection = np.clip(high - low, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1.0), 0.0)


def best_match_iou(detection_boxes, detection_image_ids, annotation_boxes, annotation_image_ids) -> np.ndarray:
    """(D,) the highest box IoU of each detection with an annotation of its own image (0 when it has none).
    Boxes XYWH; image ids of any one type (ints or strings). Give every annotation of the images here, crowd
    regions included: a detection on any of them is not a missing object."""
    detection_boxes, annotation_boxes = (
        _boxes("detection_boxes", detection_boxes),
        _boxes("annotation_boxes", annotation_boxes),
    )
    detection_image_ids = _ids("detection_image_ids", detection_image_ids, len(detection_boxes))
    annotation_image_ids = _ids("annotation_image_ids", annotation_image_ids, len(annotation_boxes))
    best = np.zeros(len(detection_boxes))
    if not len(detection_boxes) or not len(annotation_boxes):
        return best
    # both sorted by image: each image's detections and annotations are one slice (no per-image scan of all)
    by_detection, by_annotation = (
        np.argsort(ids, kind="stable") for ids in (detection_image_ids, annotation_image_ids)
    )
    image_ids, starts = np.unique(detection_image_ids[by_detection], return_index=True)
    stops = np.append(starts[1:], len(by_detection))
    sorted_annotation_ids = annotation_image_ids[by_annotation]
    lows = np.searchsorted(sorted_annotation_ids, image_ids, "left")
    highs = np.searchsorted(sorted_annotation_ids, image_ids, "right")
    for start, stop, low, high in zip(starts, stops, lows, highs):
        if high > low:
            detections = by_detection[start:stop]
            best[detections] = _box_iou(detection_boxes[detections], annotation_boxes[by_annotation[low:high]]).max(
                axis=1
            )
    return best


def find_missing_annotations(
    detection_scores, detection_best_iou, *, score_threshold: float = 0.5, match_iou: float = 0.5
) -> np.ndarray:
    """(D,) bool: a detection scored at least `score_threshold` that matches no annotation (best IoU <
    `match_iou`)."""
    score_threshold = check_fraction("score_threshold", score_threshold)
    match_iou = check_fraction("match_iou", match_iou)
    scores = check_vector("detection_scores", detection_scores, unit_interval=True)
    best_iou = check_vector("detection_best_iou", detection_best_iou, len(scores), unit_interval=True)
    return (scores >= score_threshold) & (best_iou < match_iou)


def find_label_issues(labels, pred_probs, **options) -> list[dict]:
    """The ranked issues (see the module doc): "class" always, "mask" with `mask_iou`, "missing" with the three
    `detection_*` arrays; the options (method, threshold, mask_iou, mask_threshold, detection_scores,
    detection_classes, detection_best_iou, score_threshold, match_iou) as `find_label_issue_table`'s."""
    return issue_list(find_label_issue_table(labels, pred_probs, **options))


def find_label_issue_table(
    labels,
    pred_probs,
    *,
    method: str = "self_confidence",
    threshold: Optional[float] = None,
    mask_iou=None,
    mask_threshold: float = DEFAULT_THRESHOLD,
    detection_scores=None,
    detection_classes=None,
    detection_best_iou=None,
    score_threshold: float = 0.5,
    match_iou: float = 0.5,
) -> dict:
    """`find_label_issues` as columns, for datasets too large for a dict per issue: {"type" (int8, position in
    ISSUE_TYPES), "index", "given_class" and "suggested_class" (-1: none), "score"}, ranked the same way."""
    threshold = _check_method(method, threshold)
    labels, pred_probs = check_labels_and_probs(labels, pred_probs)
    detection = (detection_scores, detection_classes, detection_best_iou)
    if any(d is not None for d in detection) and any(d is None for d in detection):
        raise UserInputError("missing objects need detection_scores, detection_classes and detection_best_iou")
    is_class, class_scores = _class_issues(labels, pred_probs, method, threshold)
    suggested = _best_other_class(labels, pred_probs)
    found = np.flatnonzero(is_class)
    parts = [(0, found, labels[found], suggested[found], class_scores[found])]
    if mask_iou is not None:
        mask_iou = check_vector("mask_iou", mask_iou, len(labels), unit_interval=True, allow_nan=True)
        found = np.flatnonzero(find_mask_issues(mask_iou, threshold=mask_threshold))
        parts.append((1, found, labels[found], np.full(len(found), -1), mask_iou[found]))
    if detection_scores is not None:
        scores = check_vector("detection_scores", detection_scores, unit_interval=True)
        classes = np.asarray(detection_classes)
        if classes.shape != scores.shape or (classes.size and not np.issubdtype(classes.dtype, np.integer)):
            raise UserInputError(
                f"detection_classes must be ({len(scores)},) integer classes, got shape {classes.shape}"
            )
        is_missing = find_missing_annotations(
            scores, detection_best_iou, score_threshold=score_threshold, match_iou=match_iou
        )
        found = np.flatnonzero(is_missing)
        parts.append((2, found, np.full(len(found), -1), classes[found], 1.0 - scores[found]))
    table = {
        "type": np.concatenate([np.full(len(part[1]), part[0], np.int8) for part in parts]),
        "index": np.concatenate([part[1] for part in parts]).astype(np.int64),
        "given_class": np.concatenate([part[2] for part in parts]).astype(np.int64),
        "suggested_class": np.concatenate([part[3] for part in parts]).astype(np.int64),
        "score": np.concatenate([part[4] for part in parts]).astype(np.float64),
    }
    order = np.lexsort((table["index"], table["type"], table["score"]))
    return {name: values[order] for name, values in table.items()}


def issue_list(table: dict) -> list[dict]:
    """A `find_label_issue_table` as find_label_issues' list of dicts."""
    return [
        {
            "type": ISSUE_TYPES[kind],
            "index": index,
            "given_class": None if given < 0 else given,
            "suggested_class": None if suggested < 0 else suggested,
            "score": score,
        }
        for kind, index, given, suggested, score in zip(
            *(table[name].tolist() for name in ("type", "index", "given_class", "suggested_class", "score"))
        )
    ]


def _check_method(method: str, threshold: Optional[float]) -> float:
    if method not in CLASS_METHODS:
        raise UserInputError(f"method must be one of {', '.join(CLASS_METHODS)}, got {method!r}")
    if method == "confident_learning" and threshold is not None:
        raise UserInputError("confident_learning takes no threshold: cleanlab estimates how many labels are wrong")
    return check_fraction("threshold", DEFAULT_THRESHOLD if threshold is None else threshold)


def _class_issues(labels: np.ndarray, pred_probs: np.ndarray, method: str, threshold: float):
    if method in SCORE_METHODS:
        scores = _quality_scores(labels, pred_probs, method)
        return scores < threshold, scores
    scores = _quality_scores(labels, pred_probs, "self_confidence")  # how cleanlab ranks the issues it finds
    if not len(labels):
        return np.zeros(0, bool), scores
    try:
        return _cleanlab_find_label_issues(labels, pred_probs, n_jobs=1), scores  # n_jobs=1: no worker processes
    finally:
        _release_cleanlab_globals()


def _release_cleanlab_globals() -> None:
    """cleanlab.filter keeps the posteriors grouped by class (a copy of them all) in module globals after
    find_label_issues returns (shared with its worker processes); drop them, or they stay in memory for good."""
    for name in ("pred_probs_by_class", "prune_count_matrix_cols"):
        if hasattr(_cleanlab_filter, name):
            setattr(_cleanlab_filter, name, None)


def _boxes(name: str, boxes) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    boxes = boxes.reshape(0, 4) if boxes.size == 0 else boxes
    if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.isfinite(boxes).all():
        raise UserInputError(f"{name} must be (N, 4) finite XYWH boxes, got shape {boxes.shape}")
    return boxes


def _ids(name: str, ids, length: int) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.shape != (length,):
        raise UserInputError(f"{name} must be ({length},), one per box, got shape {ids.shape}")
    return ids


def _xyxy(boxes: np.ndarray) -> np.ndarray:
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
