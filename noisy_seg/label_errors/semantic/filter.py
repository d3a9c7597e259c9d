"""Which components are label-error proposals: unlabelled components the meta classifier calls true positives."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .rank import MIN_PROPOSAL_SIZE, ImageComponents
from .table import ComponentTable

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
    "score"}. `find_table_proposals` on the images' table."""
    flat = np.concatenate([np.asarray(score, np.float64) for score in scores]) if len(scores) else np.zeros(0)
    return find_table_proposals(ComponentTable.of(images), flat, classes=classes, min_size=min_size, top=top)


def find_table_proposals(
    table: ComponentTable,
    scores: np.ndarray,
    *,
    classes: Optional[Sequence[int]] = None,
    min_size: int = MIN_PROPOSAL_SIZE,
    top: Optional[int] = NUM_PROPOSALS,
) -> list[dict]:
    """`find_proposals` on a `ComponentTable` and its per-row scores; "image" is the image's place in the table,
    "row" the component's row."""
    rows = table.rows
    keep = (np.asarray(rows["iou_adj"]) == 0) & (scores > 0) & (table.sizes >= min_size)  # NaN compares False
    if classes is not None:
        keep &= np.isin(np.asarray(rows["class"]), classes)
    found = np.flatnonzero(keep)
    positions = table.image_positions[found]
    order = np.lexsort((np.asarray(rows["component"])[found], positions, -scores[found]))[:top]
    return [
        {
            "image": int(positions[k]),
            "component": int(rows["component"][found[k]]),
            "class": int(rows["class"][found[k]]),
            "bbox": [int(v) for v in rows["box"][found[k]]],
            "area": int(table.sizes[found[k]]),
            "score": float(scores[found[k]]),
            "row": int(found[k]),
        }
        for k in order.tolist()
    ]
