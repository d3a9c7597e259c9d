"""One row per annotation with every reason it is an issue, ranked within each issue type and on one combined scale.

    rows = combine_issues(find_label_issue_table(...), calibrated_class_quality(labels, pred_probs))

`find_label_issue_table` lists an annotation once per reason (a wrong class and a bad mask are two issues) and ranks
all of them by raw scores that are comparable only within a type: a model weak at masks (IoU near 0 everywhere) fills
the top with mask issues, and a class the model rarely predicts fills the class issues' top with its labels. Here:

- within "class", issues are ranked by the calibrated class quality (`rank.calibrated_class_quality`: cleanlab's
  self-confidence on posteriors adjusted by each class's confident threshold, so a class the model gives little
  probability everywhere does not look wrong everywhere); "mask" by the mask IoU, "missing" by 1 - detection score;
- a row's combined score is its rank within a type divided by that type's issue count, the lowest over its reasons
  (in (0, 1], lower is worse): the types interleave in proportion to how many issues each has, the worst of each
  type first, so no raw scale decides between types.

Columns of the result, one entry per row, rows sorted by "score" (ties: type order, then index):
"index" (the annotation's row in the label arrays; the detection's for a missing object), "missing" (bool),
"reasons" (bit i set: ISSUE_TYPES[i]), "rank_<type>" (1-based within the type, 0: not of it), "given_class" (-1
for missing), "suggested_class" (the class issue's suggestion, the detection's class for missing, -1: none),
"score".
"""

from __future__ import annotations

import numpy as np

from ..utils.errors import UserInputError
from .filter import ISSUE_TYPES

__all__ = ["REASON_BITS", "combine_issues", "reasons_of"]

REASON_BITS = {kind: 1 << position for position, kind in enumerate(ISSUE_TYPES)}
_CLASS, _MASK, _MISSING = (ISSUE_TYPES.index(kind) for kind in ("class", "mask", "missing"))


def reasons_of(bits: int) -> list[str]:
    """The issue types set in a "reasons" bit field, in ISSUE_TYPES order."""
    return [kind for kind, bit in REASON_BITS.items() if bits & bit]


def combine_issues(issues: dict, class_quality) -> dict:
    """The rows of the module doc from a `find_label_issue_table` and the (N,) class ranking score of every
    annotation row (lower: more likely a wrong class)."""
    class_quality = np.asarray(class_quality, np.float64)
    kinds, index = np.asarray(issues["type"]), np.asarray(issues["index"], np.int64)
    is_class = kinds == _CLASS
    if is_class.any() and index[is_class].max() >= len(class_quality):
        raise UserInputError(f"class_quality has {len(class_quality)} rows; the class issues index up to {index.max()}")
    within = np.zeros(len(kinds), np.float64)  # each issue's rank within its type, as a fraction of the type's count
    ranks = np.zeros(len(kinds), np.int64)
    for kind in range(len(ISSUE_TYPES)):
        chosen = np.flatnonzero(kinds == kind)
        key = class_quality[index[chosen]] if kind == _CLASS else np.asarray(issues["score"])[chosen]
        ordered = chosen[np.lexsort((index[chosen], key))]
        ranks[ordered] = np.arange(1, len(ordered) + 1)
        within[ordered] = ranks[ordered] / max(len(ordered), 1)
    missing = kinds == _MISSING
    # one row per annotation: its issues grouped by index (missing objects stay one row each, keyed apart)
    key = np.where(missing, -1 - index, index)
    rows, row_of = np.unique(key, return_inverse=True)
    count = len(rows)
    combined = np.full(count, np.inf)
    np.minimum.at(combined, row_of, within)
    first_type = np.full(count, len(ISSUE_TYPES), np.int64)
    np.minimum.at(first_type, row_of, kinds.astype(np.int64))
    reasons = np.zeros(count, np.int64)
    np.bitwise_or.at(reasons, row_of, np.left_shift(1, kinds.astype(np.int64)))
    table = {"index": np.where(rows < 0, -1 - rows, rows), "missing": rows < 0, "reasons": reasons.astype(np.int8)}
    for kind, name in enumerate(ISSUE_TYPES):
        table[f"rank_{name}"] = np.zeros(count, np.int64)
        chosen = kinds == kind
        table[f"rank_{name}"][row_of[chosen]] = ranks[chosen]
    given, suggested = np.full(count, -1, np.int64), np.full(count, -1, np.int64)
    given[row_of[~missing]] = np.asarray(issues["given_class"])[~missing]
    carries_suggestion = is_class | missing
    suggested[row_of[carries_suggestion]] = np.asarray(issues["suggested_class"])[carries_suggestion]
    table.update(given_class=given, suggested_class=suggested, score=combined)
    order = np.lexsort((table["index"], first_type, combined))
    return {name: values[order] for name, values in table.items()}
