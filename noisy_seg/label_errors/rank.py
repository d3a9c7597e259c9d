"""How good is each annotation's label: per-annotation quality scores in [0, 1], lower meaning more likely wrong
(cleanlab.rank's convention), from a model's view of the annotated object.

Inputs are plain arrays: `labels` (N,) given classes 0..K-1 and `pred_probs` (N, K) the model's probabilities over
the K foreground classes on each annotated box (detectron2's box head gives K + 1 columns, background last:
`foreground_probs` drops it and renormalizes). Scores:

- "self_confidence": p[label]; "normalized_margin": (p[label] - max_{k != label} p[k] + 1) / 2. Both are
  cleanlab's, computed by `cleanlab.rank.get_label_quality_scores`.
- "gmm": DivideMix's clean probability (Li et al. 2020, used by InstanceGM): the per-annotation cross entropy
  -log p[label], min-max normalized, a 2-component GaussianMixture(max_iter=10, tol=1e-2, reg_covar=5e-4) fitted
  to it, and the posterior of the low-mean component. DivideMix calls an annotation clean when it exceeds 0.5.
- calibrated class quality (`calibrated_class_quality`): self-confidence after cleanlab's per-class adjustment
  (`adjust_pred_probs`), what the audit ranks class issues by (combine.py).
- mask quality (`mask_quality_scores`): the IoU of the model's mask for the given class with the annotated mask.
"""

from __future__ import annotations

import warnings

import numpy as np
from cleanlab.rank import get_label_quality_scores as _cleanlab_quality_scores
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from ..utils.errors import UserInputError
from ._validation import check_labels_and_probs, check_vector

__all__ = [
    "GMM_SETTINGS",
    "SCORE_METHODS",
    "annotation_losses",
    "calibrated_class_quality",
    "foreground_probs",
    "get_label_quality_scores",
    "gmm_clean_probability",
    "mask_quality_scores",
    "suggested_labels",
]

SCORE_METHODS = ("self_confidence", "normalized_margin", "gmm")
GMM_SETTINGS = {"n_components": 2, "max_iter": 10, "tol": 1e-2, "reg_covar": 5e-4}  # DivideMix's
_LOG_FLOOR = 1e-12  # p[label] = 0 gives a finite loss


def foreground_probs(class_probs) -> np.ndarray:
    """(N, K) probabilities over the foreground classes from (N, K + 1) ones with background last, each row
    divided by its foreground mass (uniform where the model put all of it on background). Float64, computed in place
    of one copy of the foreground columns (float32 input, e.g. memory-mapped evidence, is never copied whole)."""
    class_probs = np.asarray(class_probs)
    if class_probs.ndim != 2 or class_probs.shape[1] < 3:
        raise UserInputError(
            f"class_probs must be (N, K + 1) with K >= 2 foreground classes and background last, "
            f"got shape {class_probs.shape}"
        )
    if not np.issubdtype(class_probs.dtype, np.number) or not np.isfinite(class_probs).all() or (class_probs < 0).any():
        raise UserInputError("class_probs must be non-negative probabilities")
    foreground = np.array(class_probs[:, :-1], dtype=np.float64)
    mass = foreground.sum(axis=1, keepdims=True)
    empty = mass[:, 0] <= 0
    mass[empty] = 1.0
    foreground /= mass
    foreground[empty] = 1.0 / foreground.shape[1]
    return foreground


def get_label_quality_scores(labels, pred_probs, *, method: str = "self_confidence") -> np.ndarray:
    """(N,) label quality scores in [0, 1] (lower: more likely a wrong label) by `method`, one of SCORE_METHODS."""
    if method not in SCORE_METHODS:
        raise UserInputError(f"method must be one of {', '.join(SCORE_METHODS)}, got {method!r}")
    return _quality_scores(*check_labels_and_probs(labels, pred_probs), method)


def calibrated_class_quality(labels, pred_probs) -> np.ndarray:
    """(N,) self-confidence on posteriors calibrated per class (cleanlab's `adjust_pred_probs`: each class's
    confident threshold, its mean self-confidence, subtracted and the rows renormalized): a class the model gives
    little probability everywhere does not rank every one of its labels as suspicious. Ranks class issues."""
    labels, pred_probs = check_labels_and_probs(labels, pred_probs)
    if not len(labels):
        return np.zeros(0)
    return _cleanlab_quality_scores(labels, pred_probs, method="self_confidence", adjust_pred_probs=True)


def annotation_losses(labels, pred_probs) -> np.ndarray:
    """(N,) cross entropy -log p[label] of each annotation (the loss DivideMix's GMM is fitted to)."""
    return _cross_entropy(*check_labels_and_probs(labels, pred_probs))


def gmm_clean_probability(losses, *, random_state: int = 0) -> np.ndarray:
    """(N,) DivideMix clean probability of each loss: the posterior of the low-mean component of a 2-component
    GMM (GMM_SETTINGS, seeded by `random_state`) on the min-max normalized losses. All ones when there is nothing
    to split (fewer than 2 losses, or all equal)."""
    return _gmm_clean_probability(check_vector("losses", losses), random_state=random_state)


def suggested_labels(labels, pred_probs) -> np.ndarray:
    """(N,) the most probable class other than the given one (what a class issue suggests instead)."""
    return _best_other_class(*check_labels_and_probs(labels, pred_probs))


def mask_quality_scores(mask_iou) -> np.ndarray:
    """(N,) mask quality: the IoU in [0, 1] of the predicted mask with the annotated one, NaN where the annotation
    has no mask (never a mask issue). The IoU itself is the score: lower, more likely a bad mask."""
    return check_vector("mask_iou", mask_iou, unit_interval=True, allow_nan=True)


# ------------------------------------------- unchecked (filter.py calls them on arrays it checked)
def _quality_scores(labels: np.ndarray, pred_probs: np.ndarray, method: str) -> np.ndarray:
    if method == "gmm":
        return _gmm_clean_probability(_cross_entropy(labels, pred_probs))
    if not len(labels):
        return np.zeros(0)
    return _cleanlab_quality_scores(labels, pred_probs, method=method)


def _best_other_class(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    others = pred_probs.copy()
    others[np.arange(len(labels)), labels] = -1.0
    return others.argmax(axis=1)


def _cross_entropy(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    return -np.log(np.maximum(pred_probs[np.arange(len(labels)), labels], _LOG_FLOOR))


def _gmm_clean_probability(losses: np.ndarray, random_state: int = 0) -> np.ndarray:
    spread = np.ptp(losses) if len(losses) else 0.0
    if len(losses) < 2 or spread <= 0:
        return np.ones(len(losses))
    # float32, as DivideMix fits it (its losses are a float32 tensor): half the EM's memory at dataset scale
    normalized = ((losses - losses.min()) / spread).astype(np.float32)[:, None]
    with warnings.catch_warnings():  # 10 EM steps is DivideMix's setting, not a failure to converge
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm = GaussianMixture(random_state=random_state, **GMM_SETTINGS).fit(normalized)
    return gmm.predict_proba(normalized)[:, int(gmm.means_.argmin())]
