"""Which components are label-error proposals: unlabelled components the meta classifier calls true positives."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .rank import MIN_PROPOSAL_SIZE, ImageComponents

NUM_PROPOSALS = 100


def find_proposals(
    images: Sequence[ImageComponents],
    scores: Sequence[np.ndarray],
    *,
    classes: Optional[Sequence[int]] = None,
    min_size: int = MIN_PROPOSAL_SIZE,
    top: Optional[int] = NUM_PROPOSALS,
) -> list[dict]:
    """Label-error proposals, best first: scored components with IoU_adj = 0, P(true positive) > 0, a class of
    `classes` (None: every class) and at least `min_size` pixels; the `top` most probable (None: all).
    Each: {"image": index, "component": index, "class": id, "bbox": [x0, y0, x1, y1] (x1, y1 exclusive), "area",
    "score"}."""
    found = []
    for i, (image, score) in enumerate(zip(images, scores)):
        keep = (image.iou_adj == 0) & (score > 0) & (image.sizes >= min_size)  # NaN scores compare False
        if classes is not None:
            keep &= np.isin(image.classes, classes)
        found += [(float(score[j]), i, int(j)) for j in np.flatnonzero(keep)]
    found.sort(key=lambda item: (-item[0], item[1], item[2]))
    return [
        {
            "image": i,
            "component": j,
            "class": int(images[i].classes[j]),
            "bbox": [int(v) for v in images[i].boxes[j]],
            "area": int(images[i].sizes[j]),
            "score": score,
        }
        for score, i, j in found[:top]
    ]
