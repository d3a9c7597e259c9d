"""How noisy is the dataset: its class noise rate and transition matrix, estimated from out-of-sample posteriors
before anything is corrected (cleanlab.count's confident joint), and the true ones where the noise was injected.

    estimate = estimate_label_noise(labels, pred_probs)  # {"noise_rate", "joint", "transition", "per_class"}
    truth = injected_transition(labels, clean_labels, num_classes)

- `estimate_label_noise`: cleanlab's calibrated confident joint (`cleanlab.count.estimate_joint`: Q[i][j], the
  share of annotations given class i whose true class is j, summing to 1), the estimated noise rate 1 - trace(Q),
  the transition matrix P(given = i | true = j) (Q's columns normalized: the "noise matrix" of confident learning),
  and per class the annotations given it and the share estimated wrong (1 - Q[i][i] / sum_j Q[i][j]).
- `injected_transition`: the same matrix counted from the clean labels of injected noise.
- `transition_distance`: the mean absolute difference of two transition matrices (the estimate's error).
- `draw_transition_matrices`: a PNG heat map of one or more matrices side by side (matplotlib).

Inputs are plain arrays as in rank.py: `labels` (N,) in 0..K-1, `pred_probs` (N, K) over the foreground classes.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np
from cleanlab.count import estimate_joint

from ..utils.errors import UserInputError
from ._validation import check_labels_and_probs

__all__ = ["draw_transition_matrices", "estimate_label_noise", "injected_transition", "transition_distance"]


def estimate_label_noise(labels, pred_probs) -> dict:
    """{"noise_rate", "joint" (K, K), "transition" (K, K), "per_class": {"given" (K,), "estimated_wrong" (K,)}}
    (module doc); arrays as nested lists of floats, ready for json. Give out-of-sample posteriors: a model that
    trained on these labels has memorized their noise and under-reports it."""
    labels, pred_probs = check_labels_and_probs(labels, pred_probs)
    num_classes = pred_probs.shape[1]
    if len(labels) < num_classes:
        raise UserInputError(f"estimating the noise of {num_classes} classes needs at least {num_classes} annotations")
    joint = estimate_joint(labels, pred_probs)  # rows: given class, columns: true class
    given = np.bincount(labels, minlength=num_classes)
    row_mass = joint.sum(axis=1)
    wrong = np.where(row_mass > 0, 1.0 - np.diag(joint) / np.where(row_mass > 0, row_mass, 1.0), 0.0)
    return {
        "noise_rate": float(1.0 - np.trace(joint)),
        "joint": joint.tolist(),
        "transition": _column_normalized(joint).tolist(),
        "per_class": {"given": given.tolist(), "estimated_wrong": wrong.tolist()},
    }


def injected_transition(labels, clean_labels, num_classes: int) -> np.ndarray:
    """(K, K) P(given = i | clean = j) counted over the annotations (classes 0..K-1); a class with no clean
    annotation keeps an identity column."""
    labels, clean_labels = np.asarray(labels, np.int64), np.asarray(clean_labels, np.int64)
    if labels.ndim != 1 or labels.shape != clean_labels.shape:
        raise UserInputError(
            f"labels and clean_labels must be two (N,) arrays, got shapes {labels.shape} and {clean_labels.shape}"
        )
    for name, values in (("labels", labels), ("clean_labels", clean_labels)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise UserInputError(f"{name} must lie in 0..{num_classes - 1}, got {values.min()}..{values.max()}")
    counts = np.zeros((num_classes, num_classes))
    np.add.at(counts, (labels, clean_labels), 1.0)
    return _column_normalized(counts)


def transition_distance(estimate, truth) -> float:
    """Mean absolute difference of two (K, K) transition matrices."""
    estimate, truth = np.asarray(estimate, np.float64), np.asarray(truth, np.float64)
    if estimate.shape != truth.shape or estimate.ndim != 2:
        raise UserInputError(f"two (K, K) matrices are needed, got shapes {estimate.shape} and {truth.shape}")
    return float(np.abs(estimate - truth).mean())


_DPI = 110


def draw_transition_matrices(
    matrices: Mapping[str, np.ndarray], class_names: Optional[Sequence[str]], path, *, title: str = ""
) -> None:
    """A PNG at `path`: each matrix (name -> (K, K) P(given = row | true = column)) as a heat map with its numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..utils.files import save_figure

    matrices = {name: np.asarray(m, np.float64) for name, m in matrices.items()}
    size = next(iter(matrices.values())).shape[0]
    names = list(class_names) if class_names is not None and len(class_names) == size else [str(k) for k in range(size)]
    cell = 0.45 + 0.02 * max(len(n) for n in names)
    figure, axes = plt.subplots(
        # drawn at the dpi it is saved at: tight_layout's canvas is then reused by savefig, not a second one made
        1,
        len(matrices),
        figsize=(2.2 + cell * size * len(matrices), 1.8 + cell * size),
        dpi=_DPI,
    )
    for axis, (name, matrix) in zip(np.atleast_1d(axes), matrices.items()):
        axis.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis")
        if size <= 30:  # the numbers stay readable
            for (i, j), value in np.ndenumerate(matrix):
                axis.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w" if value < 0.6 else "k")
        axis.set_xticks(range(size), names, rotation=90, fontsize=7)
        axis.set_yticks(range(size), names, fontsize=7)
        axis.set_xlabel("true class")
        axis.set_ylabel("given class")
        axis.set_title(name, fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    save_figure(figure, path, dpi="figure")
    plt.close(figure)


def _column_normalized(matrix: np.ndarray) -> np.ndarray:
    columns = matrix.sum(axis=0, keepdims=True)
    normalized = np.divide(matrix, columns, out=np.zeros_like(matrix, dtype=np.float64), where=columns > 0)
    empty = np.flatnonzero(columns[0] <= 0)
    normalized[empty, empty] = 1.0
    return normalized
