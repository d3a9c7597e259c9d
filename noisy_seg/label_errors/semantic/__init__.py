"""Label errors in semantic segmentation (Rottmann & Reese, seed 002; methods.md section 4), on plain arrays.

A model's softmax `probs` (K, H, W) and the given label map (H, W) of an image become, per predicted connected
component (8-connectivity of the argmax, one class each), uncertainty and geometry metrics and the component's
adjusted IoU with the given label (`component_metrics`). An L1 logistic regression on the z-scored metrics, fitted on
half of the images, predicts P(IoU_adj > 0) - the component is a true positive w.r.t. the label - on the other half
(`score_images`). A component the label does not have (IoU_adj = 0) that the meta classifier nevertheless calls a
true positive is a label-error proposal (`find_proposals`).

The benchmark of the seed: drop connected components of a clean label map (`drop_components`); the changed regions
(`error_regions`, those under 250 px left out) are the label errors to find. At each of 21 score thresholds, a region
is found when an active proposal of its class overlaps it with IoU_adj >= 0.25, and a proposal that overlaps no region
so is a false positive (`benchmark_counts`); precision, recall, F1 and the area under the PR curve as the seed's
auc.py computes it (`pr_curve`). `cleanlab_proposals` turns cleanlab.segmentation's pixel flags and scores into
proposals of the same form, so both methods go through one evaluation.

Where this differs from the seed's code (documented, each a fix or a vectorization):
- a component with no boundary pixel (it fills the image) divides by 1 instead of 0 (the seed's known issue);
- the features are z-scored with the training half's mean and deviation (the seed standardizes each half with its
  own statistics);
- metrics are reduced with `np.bincount` over one label image instead of a flood fill per component; IoU_adj follows
  its definition (Rottmann et al. 2018): |k n K'| / |k u (K' \\ Q)|, K' the label's components of k's class that meet
  k, Q the other predicted components of that class;
- a benchmark proposal under 250 px is left out by its own size (the seed measures the union of touching proposals),
  and scores are compared unquantized (the seed saves them as uint8 first).

The package is split as cleanlab splits its own: `rank` (component metrics, meta classifier, scores), `filter` (the
proposals), `summary` (the benchmark), `peer` (cleanlab.segmentation).
"""

from .filter import NUM_PROPOSALS, find_proposals
from .peer import cleanlab_proposals, flagged_components
from .rank import (
    C_VALUES,
    MIN_PROPOSAL_SIZE,
    SOLVERS,
    ImageComponents,
    adjusted_iou,
    component_metrics,
    connected_components,
    feature_names,
    fit_meta_classifier,
    heatmaps,
    score_images,
    split_images,
)
from .summary import (
    IOU_THRESHOLD,
    MIN_ERROR_SIZE,
    THRESHOLDS,
    benchmark_counts,
    drop_components,
    error_regions,
    evaluate_proposals,
    image_proposals,
    pr_curve,
)

__all__ = [
    "C_VALUES",
    "IOU_THRESHOLD",
    "MIN_ERROR_SIZE",
    "MIN_PROPOSAL_SIZE",
    "NUM_PROPOSALS",
    "SOLVERS",
    "THRESHOLDS",
    "ImageComponents",
    "adjusted_iou",
    "benchmark_counts",
    "cleanlab_proposals",
    "component_metrics",
    "connected_components",
    "drop_components",
    "error_regions",
    "evaluate_proposals",
    "feature_names",
    "find_proposals",
    "fit_meta_classifier",
    "flagged_components",
    "heatmaps",
    "image_proposals",
    "pr_curve",
    "score_images",
    "split_images",
]
