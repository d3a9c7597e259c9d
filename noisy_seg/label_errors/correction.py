"""The one correction policy of the project, on plain arrays: which labels a tool changes, and what a change did to
injected noise. `tools/find_label_errors.py` (corrected.json) and label correction
(`noisy_seg.pseudo_labels.instance`, `tools/generate_pseudo_labels.py --task instance`) both apply it.

- relabel (`decide_corrections`): an annotation takes the most probable class other than its given one when that
  class's probability on its box is above `relabel_threshold` (default 0.5: the model then prefers it to every other
  class, the given one included). find_label_errors relabels only its class issues by this rule; label correction
  looks at every annotation. A suggestion at or below the threshold is listed, never applied.
- flag: a mask IoU below `mask_iou_threshold` marks an annotation for review; masks are never changed.
- `count_label_changes`: restored / changed but still wrong / broken against the clean labels of injected noise;
  `threshold_sweep`: the same counts had the rule used other thresholds (from the same evidence).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = [
    "DEFAULT_RELABEL_THRESHOLD",
    "SWEEP_THRESHOLDS",
    "count_label_changes",
    "decide_corrections",
    "threshold_sweep",
]

DEFAULT_RELABEL_THRESHOLD = 0.5
SWEEP_THRESHOLDS = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def decide_corrections(
    best_other_prob: np.ndarray,
    mask_iou: np.ndarray,
    relabel_threshold: Optional[float],
    mask_iou_threshold: Optional[float],
):
    """(relabel, flag) bool arrays: relabel where the best other class is more probable than the threshold; flag
    where the mask IoU (NaN: no mask to compare) is below its threshold. A None threshold decides nothing."""
    best_other_prob, mask_iou = np.asarray(best_other_prob, float), np.asarray(mask_iou, float)
    relabel = best_other_prob > (np.inf if relabel_threshold is None else relabel_threshold)
    flag = mask_iou < (-np.inf if mask_iou_threshold is None else mask_iou_threshold)  # NaN compares False
    return relabel, flag


def count_label_changes(original: np.ndarray, corrected: np.ndarray, clean: np.ndarray) -> dict:
    """What a correction did to injected label noise (arrays of category ids, one entry per annotation)."""
    original, corrected, clean = (np.asarray(a) for a in (original, corrected, clean))
    noisy, changed = original != clean, corrected != original
    return {
        "annotations": int(len(original)),
        "noisy_before": int(noisy.sum()),
        "restored": int((noisy & changed & (corrected == clean)).sum()),
        "changed_still_wrong": int((noisy & changed & (corrected != clean)).sum()),
        "broken": int((~noisy & changed).sum()),
        "noisy_after": int((corrected != clean).sum()),
    }


def threshold_sweep(given, clean, suggested, best_other_prob, thresholds=SWEEP_THRESHOLDS) -> dict:
    """{threshold: count_label_changes} had the relabel rule used that threshold (arrays over the same annotations:
    given, clean and suggested category ids, the suggestion's probability, -inf for one the rule may not change):
    which threshold would have restored more flipped labels than it broke, from the same evidence."""
    given, suggested, best_other_prob = np.asarray(given), np.asarray(suggested), np.asarray(best_other_prob)
    return {
        str(t): count_label_changes(given, np.where(best_other_prob > t, suggested, given), clean) for t in thresholds
    }
