"""cleanlab.object_detection (ObjectLab) as the peer of the instance scores: its per-box scores for the same
annotations and detections, given as flat arrays with an image id per row, as the rest of label_errors takes them.

    scores = cleanlab_box_scores(annotation_boxes, annotation_classes, annotation_images,
                                 detection_boxes, detection_scores, detection_classes, detection_images,
                                 num_classes=8)
    scores["swap"], scores["badloc"]   # (A,) per annotation: lower = more likely a wrong class / a bad box
    scores["overlooked"]               # (D,) per detection: lower = more likely an object the labels miss

cleanlab takes, per image, the given labels {"bboxes": (L, 4) XYXY, "labels": (L,)} and the predictions as a list of
K arrays (M_k, 5) [x1, y1, x2, y2, score], one per class; `cleanlab_inputs` builds them (boxes here are XYWH, COCO's,
as elsewhere in label_errors) and says where each flat row went, so the scores come back in the input order.
`overlooked` is NaN where cleanlab does not consider a detection (scored below its high-probability threshold, or
overlapping a given box). cleanlab scores boxes only: it has no view of masks.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..utils.errors import UserInputError
from ._validation import check_vector
from .filter import _boxes, _ids, _xyxy

__all__ = ["CLEANLAB_BOX_SCORES", "cleanlab_box_scores", "cleanlab_inputs"]

CLEANLAB_BOX_SCORES = ("swap", "badloc", "overlooked")


def cleanlab_inputs(
    annotation_boxes,
    annotation_classes,
    annotation_images,
    detection_boxes,
    detection_scores,
    detection_classes,
    detection_images,
    *,
    num_classes: int,
    images: Optional[Sequence] = None,
):
    """(labels, predictions, annotation_slots, detection_slots) in cleanlab.object_detection's format.

    One entry per image of `images` (default: every image id of either input, sorted). Within an image, labels keep
    the order of the annotation rows; predictions are grouped by class (cleanlab reads them class by class).
    annotation_slots / detection_slots: (A, 2) / (D, 2) int64, [image position, position in that image's flattened
    labels / predictions], where cleanlab's per-image score arrays hold each row's score."""
    annotation_boxes = _boxes("annotation_boxes", annotation_boxes)
    detection_boxes = _boxes("detection_boxes", detection_boxes)
    annotation_classes = _classes("annotation_classes", annotation_classes, len(annotation_boxes), num_classes)
    detection_classes = _classes("detection_classes", detection_classes, len(detection_boxes), num_classes)
    annotation_images = _ids("annotation_images", annotation_images, len(annotation_boxes))
    detection_images = _ids("detection_images", detection_images, len(detection_boxes))
    detection_scores = check_vector("detection_scores", detection_scores, len(detection_boxes), unit_interval=True)
    if images is None:
        images = sorted(set(annotation_images.tolist()) | set(detection_images.tolist()))
    position = {image: i for i, image in enumerate(images)}
    unknown = [i for i in (*annotation_images.tolist(), *detection_images.tolist()) if i not in position]
    if unknown:
        raise UserInputError(f"image id {unknown[0]!r} is not among `images`")

    labels, predictions = [], []
    annotation_slots = np.zeros((len(annotation_boxes), 2), np.int64)
    detection_slots = np.zeros((len(detection_boxes), 2), np.int64)
    for image_position, image in enumerate(images):
        rows = np.flatnonzero(annotation_images == image)
        labels.append({"bboxes": _xyxy(annotation_boxes[rows]), "labels": annotation_classes[rows]})
        annotation_slots[rows] = np.column_stack([np.full(len(rows), image_position), np.arange(len(rows))])
        rows = np.flatnonzero(detection_images == image)
        by_class = rows[np.argsort(detection_classes[rows], kind="stable")]  # cleanlab's flattening order
        detection_slots[by_class] = np.column_stack([np.full(len(rows), image_position), np.arange(len(rows))])
        boxes = np.column_stack([_xyxy(detection_boxes[rows]), detection_scores[rows]])
        predictions.append([boxes[detection_classes[rows] == k] for k in range(num_classes)])
    return labels, predictions, annotation_slots, detection_slots


def cleanlab_box_scores(
    annotation_boxes,
    annotation_classes,
    annotation_images,
    detection_boxes,
    detection_scores,
    detection_classes,
    detection_images,
    *,
    num_classes: int,
    images: Optional[Sequence] = None,
    high_probability_threshold: Optional[float] = None,
    scores: Sequence[str] = CLEANLAB_BOX_SCORES,
) -> dict:
    """{"swap": (A,), "badloc": (A,), "overlooked": (D,)}: cleanlab.object_detection.rank's per-box scores
    (`compute_swap_box_scores`, `compute_badloc_box_scores`, `compute_overlooked_box_scores`, cleanlab's defaults
    unless `high_probability_threshold` is given: the detection score from which swap and overlooked consider a
    detection, 0.95 in cleanlab) in the order of the flat inputs (see `cleanlab_inputs`). `scores`: which of them
    to compute (badloc does not depend on the threshold: a second threshold needs only swap and overlooked)."""
    from cleanlab.object_detection import rank

    labels, predictions, annotation_slots, detection_slots = cleanlab_inputs(
        annotation_boxes,
        annotation_classes,
        annotation_images,
        detection_boxes,
        detection_scores,
        detection_classes,
        detection_images,
        num_classes=num_classes,
        images=images,
    )
    threshold = (
        {} if high_probability_threshold is None else {"high_probability_threshold": float(high_probability_threshold)}
    )
    unknown = sorted(set(scores) - set(CLEANLAB_BOX_SCORES))
    if unknown:
        raise UserInputError(f"scores {unknown} are not cleanlab box scores; choose among {CLEANLAB_BOX_SCORES}")
    compute = {
        "swap": lambda: rank.compute_swap_box_scores(labels=labels, predictions=predictions, **threshold),
        "badloc": lambda: rank.compute_badloc_box_scores(labels=labels, predictions=predictions),
        "overlooked": lambda: rank.compute_overlooked_box_scores(labels=labels, predictions=predictions, **threshold),
    }
    slots = {"swap": annotation_slots, "badloc": annotation_slots, "overlooked": detection_slots}
    return {name: _gather(compute[name](), slots[name]) for name in CLEANLAB_BOX_SCORES if name in scores}


def _gather(per_image: list, slots: np.ndarray) -> np.ndarray:
    """Flat scores from cleanlab's per-image arrays."""
    return np.asarray([per_image[image][j] for image, j in slots.tolist()], dtype=np.float64)


def _classes(name: str, classes, length: int, num_classes: int) -> np.ndarray:
    classes = np.asarray(classes)
    if classes.shape != (length,) or (classes.size and not np.issubdtype(classes.dtype, np.integer)):
        raise UserInputError(
            f"{name} must be ({length},) integer classes, one per box, got {classes.dtype} {classes.shape}"
        )
    if classes.size and (classes.min() < 0 or classes.max() >= num_classes):
        raise UserInputError(f"{name} must lie in 0..{num_classes - 1}, got {classes.min()}..{classes.max()}")
    return classes.astype(np.int64)
