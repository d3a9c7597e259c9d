"""The input checks of label_errors' public functions (cleanlab's internal/validation.py): each public function
checks its arrays once, first, and says which shape or value is wrong; the helpers behind it trust their callers."""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..utils.errors import UserInputError

ROW_SUM_TOLERANCE = 1e-4  # float32 probabilities written to json and read back still sum to 1 within this


def check_labels_and_probs(labels, pred_probs) -> tuple[np.ndarray, np.ndarray]:
    """(labels as int64 (N,), pred_probs as float64 (N, K)): K >= 2 foreground classes, labels in 0..K-1, rows
    probabilities that sum to 1."""
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    if pred_probs.ndim != 2 or pred_probs.shape[1] < 2:
        raise UserInputError(f"pred_probs must be (N, K) with K >= 2 classes, got shape {pred_probs.shape}")
    labels = np.asarray(labels)
    if labels.shape != (len(pred_probs),):
        raise UserInputError(
            f"labels must be ({len(pred_probs)},), one per row of pred_probs, got shape {labels.shape}"
        )
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise UserInputError(f"labels must be integer class indices, got dtype {labels.dtype}")
    num_classes = pred_probs.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise UserInputError(
            f"labels must lie in 0..{num_classes - 1} (pred_probs has {num_classes} columns), got "
            f"{labels.min()}..{labels.max()}"
        )
    if not np.isfinite(pred_probs).all() or (pred_probs < 0).any() or (pred_probs > 1).any():
        raise UserInputError("pred_probs must be probabilities in [0, 1]")
    sums = pred_probs.sum(axis=1)
    if not np.allclose(sums, 1.0, rtol=0, atol=ROW_SUM_TOLERANCE):
        worst = int(np.abs(sums - 1).argmax())
        raise UserInputError(
            f"each row of pred_probs must sum to 1 (row {worst} sums to {sums[worst]:.6g}); "
            "renormalize the foreground columns first (rank.foreground_probs)"
        )
    return labels.astype(np.int64), pred_probs


def check_vector(
    name: str, values, length: Optional[int] = None, *, unit_interval: bool = False, allow_nan: bool = False
) -> np.ndarray:
    """`values` as a float64 (N,) array (of `length` when given), finite (NaN too with `allow_nan`), in [0, 1]
    with `unit_interval`."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or (length is not None and len(values) != length):
        expected = f"({length},)" if length is not None else "one-dimensional"
        raise UserInputError(f"{name} must be {expected}, got shape {values.shape}")
    known = values[~np.isnan(values)] if allow_nan else values
    if not np.isfinite(known).all():
        raise UserInputError(f"{name} must be finite numbers" + (" or NaN" if allow_nan else ""))
    if unit_interval and ((known < 0).any() or (known > 1).any()):
        raise UserInputError(f"{name} must lie in [0, 1]" + (" (NaN: unknown)" if allow_nan else ""))
    return values


def check_fraction(name: str, value) -> float:
    """A number in [0, 1] (a threshold on a score of that range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not 0 <= value <= 1:
        raise UserInputError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)
