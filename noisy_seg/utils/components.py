"""Connected components of a label map, class by class: the one implementation that semantic noise
(noise/semantic_noise.py) and semantic label-error finding (label_errors/semantic/) share. numpy and OpenCV only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

__all__ = ["ClassComponents", "class_components"]


@dataclass(frozen=True)
class ClassComponents:
    labels: np.ndarray  # int32 (H, W): 0 for no component, else 1..n
    classes: np.ndarray  # int64 (n,): the class of component i + 1
    boxes: np.ndarray  # int64 (n, 4): x, y, width, height in the map


def class_components(label_map, classes: Iterable[int]) -> ClassComponents:
    """The 8-connected components of each class in `classes` (in that order; a class absent from the map has none),
    numbered from 1 class by class, within a class in OpenCV's order (not always the raster order of their first
    pixels: semantic noise keys a component by its first pixel, not by its number). Pixels of any other value belong
    to none. OpenCV labels only each class's bounding window: cheap for small classes."""
    import cv2  # the noise core's other users of this package need no OpenCV

    label_map = np.asarray(label_map)
    labels = np.zeros(label_map.shape, dtype=np.int32)
    found, boxes = [], []
    for cls in classes:
        mask = label_map == cls
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            continue
        cols = np.flatnonzero(mask.any(axis=0))
        top, left = int(rows[0]), int(cols[0])
        window = (slice(top, int(rows[-1]) + 1), slice(left, int(cols[-1]) + 1))
        count, local, stats, _ = cv2.connectedComponentsWithStats(
            mask[window].astype(np.uint8), connectivity=8, ltype=cv2.CV_32S
        )
        inside = local > 0
        labels[window][inside] = local[inside] + len(found)
        found += [cls] * (count - 1)
        boxes.append(stats[1:, :4].astype(np.int64) + np.array([left, top, 0, 0], dtype=np.int64))
    return ClassComponents(
        labels, np.asarray(found, dtype=np.int64), np.concatenate(boxes) if boxes else np.zeros((0, 4), dtype=np.int64)
    )
