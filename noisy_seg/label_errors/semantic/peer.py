"""The peer: cleanlab.segmentation's pixel flags and scores as proposals of the same form, so both methods go
through one evaluation."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .rank import connected_components


def cleanlab_proposals(labels, pred_probs, *, n_jobs: Optional[int] = 1, batch_size: Optional[int] = None):
    """cleanlab.segmentation's answer as benchmark proposals, for a side-by-side comparison on the same pred_probs.

    `find_label_issues(labels, pred_probs)` flags pixels; within each image the 8-connected components of flagged
    pixels of one predicted class (argmax: cleanlab flags only pixels whose argmax is not the label) are the
    proposals, each scored by its mean 1 - p(given label), the pixel scores of `get_label_quality_scores(labels,
    pred_probs, method="softmin")`. labels: (N, H, W) in [0, K) (cleanlab knows no ignore label); pred_probs:
    (N, K, H, W). Returns (per image (map, classes, scores) as `image_proposals`, the softmin image scores (N,)).
    """
    from cleanlab.segmentation.filter import find_label_issues
    from cleanlab.segmentation.rank import get_label_quality_scores

    labels, pred_probs = np.asarray(labels), np.asarray(pred_probs)
    if labels.ndim != 3 or pred_probs.ndim != 4 or labels.shape != (pred_probs.shape[0], *pred_probs.shape[2:]):
        raise ValueError(
            f"labels must be (N, H, W) and pred_probs (N, K, H, W) of the same N, H, W, got "
            f"{labels.shape} and {pred_probs.shape}"
        )
    num_classes = pred_probs.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"cleanlab needs every label in [0, {num_classes}); got values in [{labels.min()}, "
            f"{labels.max()}] (map an ignore label to a class first)"
        )
    issues = find_label_issues(labels, pred_probs, n_jobs=n_jobs, batch_size=batch_size, verbose=False)
    image_scores, pixel_scores = get_label_quality_scores(labels, pred_probs, method="softmin", verbose=False)
    return [
        flagged_components(issues[i], pred_probs[i].argmax(axis=0), 1.0 - pixel_scores[i], num_classes)
        for i in range(len(labels))
    ], image_scores


def flagged_components(flags, predicted, badness, num_classes: int):
    """Proposals from per-pixel flags: the 8-connected components of flagged pixels of one predicted class, each
    scored by the mean of `badness` over it. Returns (map, classes, scores) as `image_proposals`."""
    components, classes = connected_components(np.where(flags, predicted, -1), num_classes)
    flat = components.ravel()
    sums = np.bincount(flat, weights=np.asarray(badness, np.float64).ravel(), minlength=len(classes) + 1)[1:]
    return components, classes, sums / np.maximum(np.bincount(flat, minlength=len(classes) + 1)[1:], 1)
