"""What was found, and how well each score finds known errors (cleanlab.summary's question).

- `issue_counts(issues)`: the number of issues of each type in a find_label_issues list.
- `score_metrics(is_error, score)`: how well a quality score (lower: more likely an error) ranks the known errors
  first: AUROC and average precision (scikit-learn, on -score) and precision@k (the share of errors among the k
  lowest scores; k = the number of errors gives the R-precision). NaN scores (nothing to judge, e.g. no mask)
  rank last.
- `flag_metrics(is_error, flagged)`: precision and recall of a yes/no decision (confident learning, a threshold).
- `average_precision_gap(...)`: AP(a) - AP(b) of two scores with a 95% bootstrap interval over the ranked items:
  whether one score's lead survives resampling the annotations (not the spread over training seeds).
- `label_noise_benchmark(labels, clean_labels, scores, flags)`: all of them against injected class noise (the
  annotations whose given label differs from its `clean_category_id`).

Ties never follow the input order (which is often informative: detections come per image by descending score):
every ranked metric here is the same for any order of tied items. Precision@k counts a tied group that the k-th
place cuts through by its expected share of errors (the expected value over the orders of the ties), so all-equal
scores give the error rate. scikit-learn's AUROC counts a tied (error, clean) pair as half a correct pair (the
expected value too); its average precision and precision-recall curve take a tied group as one threshold (one step
at the group's precision), which depends on no order either. The AP-gap bootstrap and the evidence's PR curves use
those.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from ..utils.errors import UserInputError
from ._validation import check_vector
from .filter import ISSUE_TYPES

__all__ = [
    "average_precision_gap",
    "flag_metrics",
    "issue_counts",
    "label_noise_benchmark",
    "precision_at_k",
    "score_metrics",
]

DEFAULT_KS = (10, 100)


def issue_counts(issues: Iterable[Mapping]) -> dict:
    """{"class": n, "mask": n, "missing": n, "total": n} of a find_label_issues list."""
    counts = Counter(issue["type"] for issue in issues)
    unknown = sorted(set(counts) - set(ISSUE_TYPES))
    if unknown:
        raise UserInputError(f"unknown issue types {unknown}; expected {', '.join(ISSUE_TYPES)}")
    return {**{kind: counts.get(kind, 0) for kind in ISSUE_TYPES}, "total": sum(counts.values())}


def precision_at_k(is_error, score, k: int) -> float:
    """The share of errors among the `k` annotations with the lowest scores; a tied group cut by the k-th place
    counts by its expected share of errors (see the module doc: no input order breaks ties)."""
    is_error, score = _check_pair(is_error, score)
    if not 1 <= k <= len(score):
        raise UserInputError(f"k must lie in 1..{len(score)}, got {k}")
    return float(_precision_at_ks(is_error, _ranked_last_if_nan(score), [k])[0])


def score_metrics(is_error, score, *, ks: Optional[Sequence[int]] = None) -> dict:
    """{"annotations", "errors", "auroc", "average_precision", "precision_at_k": {str(k): value}, "r_precision"}
    of a quality score against the known errors. `ks` (default 10 and 100) beyond the number of annotations are
    left out; AUROC and average precision are None when every annotation, or none, is an error."""
    is_error, score = _check_pair(is_error, score)
    score = _ranked_last_if_nan(score)
    errors = int(is_error.sum())
    both = 0 < errors < len(is_error)
    ks = [int(k) for k in (DEFAULT_KS if ks is None else ks) if 1 <= k <= len(score)]
    return {
        "annotations": int(len(is_error)),
        "errors": errors,
        "auroc": float(roc_auc_score(is_error, -score)) if both else None,
        "average_precision": float(average_precision_score(is_error, -score)) if both else None,
        "precision_at_k": dict(zip(map(str, ks), _precision_at_ks(is_error, score, ks).tolist())),
        "r_precision": float(_precision_at_ks(is_error, score, [errors])[0]) if errors else None,
    }


def average_precision_gap(
    is_error_a, score_a, is_error_b, score_b, *, paired: bool, rounds: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """{"gap", "low", "high", "rounds"}: AP(a) - AP(b) of two quality scores and its `level` percentile bootstrap
    interval. `paired`: a and b rank the same items (the same annotations scored two ways: one resample of indices
    for both); otherwise each side is resampled on its own. Resamples with no error or no clean item on a side are
    skipped ("rounds": how many counted). The interval says how much the gap owes to which items were drawn, not to
    the training seed. None where either side has no error or no clean item."""
    a, b = _check_pair(is_error_a, score_a), _check_pair(is_error_b, score_b)
    if paired and len(a[0]) != len(b[0]):
        raise UserInputError(f"paired scores must rank the same items, got {len(a[0])} and {len(b[0])}")
    a, b = (a[0], _ranked_last_if_nan(a[1])), (b[0], _ranked_last_if_nan(b[1]))
    if not all(0 < truth.sum() < len(truth) for truth, _ in (a, b)):
        return None
    rng = np.random.default_rng(seed)
    gaps = []
    for _ in range(rounds):
        picks_a = rng.integers(0, len(a[0]), len(a[0]))
        picks_b = picks_a if paired else rng.integers(0, len(b[0]), len(b[0]))
        truth_a, truth_b = a[0][picks_a], b[0][picks_b]
        if 0 < truth_a.sum() < len(truth_a) and 0 < truth_b.sum() < len(truth_b):
            gaps.append(
                average_precision_score(truth_a, -a[1][picks_a]) - average_precision_score(truth_b, -b[1][picks_b])
            )
    gap = float(average_precision_score(a[0], -a[1]) - average_precision_score(b[0], -b[1]))
    if not gaps:
        return {"gap": gap, "low": None, "high": None, "rounds": 0}
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(gaps, [tail, 100 - tail])
    return {"gap": gap, "low": float(low), "high": float(high), "rounds": len(gaps)}


def flag_metrics(is_error, flagged) -> dict:
    """{"flagged", "true_positives", "precision", "recall"} of a yes/no decision; precision is None when nothing
    is flagged, recall None when there are no errors."""
    is_error, flagged = _as_bool("is_error", is_error), _as_bool("flagged", flagged)
    if flagged.shape != is_error.shape:
        raise UserInputError(f"flagged must be {is_error.shape} like is_error, got {flagged.shape}")
    hits = int((flagged & is_error).sum())
    return {
        "flagged": int(flagged.sum()),
        "true_positives": hits,
        "precision": hits / int(flagged.sum()) if flagged.any() else None,
        "recall": hits / int(is_error.sum()) if is_error.any() else None,
    }


def label_noise_benchmark(
    labels,
    clean_labels,
    scores: Mapping[str, np.ndarray],
    flags: Optional[Mapping[str, np.ndarray]] = None,
    *,
    ks: Optional[Sequence[int]] = None,
) -> dict:
    """How well each score in `scores` (name -> (N,) quality) and each decision in `flags` (name -> (N,) bool)
    finds the annotations whose given label differs from the clean one: {"annotations", "flipped",
    "scores": {name: score_metrics}, "flags": {name: flag_metrics}}."""
    labels, clean_labels = np.asarray(labels), np.asarray(clean_labels)
    if labels.ndim != 1 or clean_labels.shape != labels.shape:
        raise UserInputError(
            f"labels and clean_labels must be two (N,) arrays, got shapes {labels.shape} and {clean_labels.shape}"
        )
    flipped = labels != clean_labels
    return {
        "annotations": int(len(labels)),
        "flipped": int(flipped.sum()),
        "scores": {name: score_metrics(flipped, score, ks=ks) for name, score in scores.items()},
        "flags": {name: flag_metrics(flipped, flag) for name, flag in (flags or {}).items()},
    }


def _check_pair(is_error, score) -> tuple[np.ndarray, np.ndarray]:
    is_error = _as_bool("is_error", is_error)
    return is_error, check_vector("score", score, len(is_error), allow_nan=True)


def _as_bool(name: str, values) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1 or (values.size and values.dtype != bool):
        raise UserInputError(f"{name} must be a one-dimensional bool array, got {values.dtype} of shape {values.shape}")
    return values.astype(bool)


def _ranked_last_if_nan(score: np.ndarray) -> np.ndarray:
    if not np.isnan(score).any():
        return score
    known = score[~np.isnan(score)]
    return np.where(np.isnan(score), (known.max() if known.size else 0.0) + 1.0, score)


def _precision_at_ks(is_error: np.ndarray, score: np.ndarray, ks) -> np.ndarray:
    """Precision@k for each k in `ks` (1 <= k <= N), tie-fair: with `before` items scored below the k-th score
    and the `tied` items at it holding `tied_errors`, the k - before places left to the tie take
    (k - before) / tied of its errors in expectation: (errors below + (k - before) * tied_errors / tied) / k."""
    ks = np.asarray(ks, np.int64)
    order = np.argsort(score, kind="stable")
    ranked = score[order]
    errors_before = np.concatenate([[0], np.cumsum(is_error[order])])  # errors among the first i ranked
    kth = ranked[ks - 1]
    before, through = np.searchsorted(ranked, kth, "left"), np.searchsorted(ranked, kth, "right")
    tied_errors = errors_before[through] - errors_before[before]
    return (errors_before[before] + (ks - before) * tied_errors / (through - before)) / ks
