"""Transition matrices: validation, inverse-CDF sampling of rows, realized matrices."""

from __future__ import annotations

import numpy as np

from ._validation import check_labels, check_num_classes

__all__ = [
    "inverse_cdf_table",
    "realized_transition_matrix",
    "sample_by_row",
    "sample_from_table",
    "validate_transition_matrix",
]

_ROW_SUM_TOLERANCE = 1e-6


def validate_transition_matrix(matrix, name: str = "matrix") -> np.ndarray:
    """Square, finite, non-negative, rows summing to 1 (within 1e-6) -> float64 (K, K), rows renormalized."""
    array = np.asarray(matrix, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square (K, K) matrix, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must contain only finite numbers")
    if (array < 0).any():
        row = int(np.argwhere(array < 0)[0, 0])
        raise ValueError(f"{name} has a negative entry in row {row}; probabilities must be >= 0")
    sums = array.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _ROW_SUM_TOLERANCE)
    if bad.size:
        raise ValueError(
            f"{name} row {int(bad[0])} sums to {sums[bad[0]]:.6g}, not 1; each row must be P(noisy | clean)"
        )
    return array / sums[:, None]


def inverse_cdf_table(probabilities: np.ndarray) -> np.ndarray:
    """Row-wise CDF (R, K) of non-negative rows, exact 1.0 from each row's last positive entry on.

    Pinning the tail to 1.0 means a uniform u < 1 can never select a zero-probability class,
    whatever the rounding of the cumulative sum. Rows that are all zero stay all zero.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    cdf = np.cumsum(probabilities, axis=-1)
    totals = cdf[..., -1:]
    cdf = np.divide(cdf, totals, out=np.zeros_like(cdf), where=totals > 0)
    positive = probabilities > 0
    last_positive = probabilities.shape[-1] - 1 - np.argmax(positive[..., ::-1], axis=-1)
    tail = np.arange(probabilities.shape[-1]) >= last_positive[..., None]
    cdf[tail & positive.any(axis=-1, keepdims=True)] = 1.0
    return cdf


def sample_from_table(cdf_table: np.ndarray, rows: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF sample: for each i, the class drawn from ``cdf_table[rows[i]]`` by ``uniforms[i]``.

    cdf_table (R, K) from ``inverse_cdf_table``; rows int (n,); uniforms float in [0, 1) (n,).
    Returns int64 (n,). Loops over distinct rows (classes), never over samples.
    """
    result = np.empty(rows.shape[0], dtype=np.int64)
    if rows.size == 0:
        return result
    if rows.size <= 32:  # a few samples (one image): count cdf entries <= u, same as searchsorted "right"
        return (cdf_table[rows] <= uniforms[:, None]).sum(axis=1).astype(np.int64)
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    starts = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1]])
    ends = np.r_[starts[1:], sorted_rows.size]
    for start, end in zip(starts.tolist(), ends.tolist()):
        members = order[start:end]
        result[members] = np.searchsorted(cdf_table[sorted_rows[start]], uniforms[members], side="right")
    return result


def sample_by_row(probabilities: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF sample of one class per row of probabilities (n, K) with uniforms (n,) -> int64 (n,)."""
    cdf = inverse_cdf_table(probabilities)
    return np.count_nonzero(cdf <= uniforms[:, None], axis=1).astype(np.int64)


def realized_transition_matrix(clean, noisy, num_classes: int, normalize: bool = True) -> np.ndarray:
    """Counts (K, K) of (clean i, noisy j) pairs; row-normalized to P(noisy=j | clean=i) when normalize.

    Rows of classes that never occur stay all zero.
    """
    num_classes = check_num_classes(num_classes)
    clean = check_labels(clean, num_classes, "clean")
    noisy = check_labels(noisy, num_classes, "noisy")
    if clean.shape != noisy.shape:
        raise ValueError(f"clean has {clean.size} labels but noisy has {noisy.size}; pass matching arrays")
    counts = np.bincount(clean * num_classes + noisy, minlength=num_classes * num_classes)
    counts = counts.reshape(num_classes, num_classes).astype(np.float64 if normalize else np.int64)
    if not normalize:
        return counts
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
