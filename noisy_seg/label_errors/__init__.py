"""Label errors in segmentation datasets, on plain arrays (numpy, scikit-learn, cleanlab; no torch, no
detectron2), split as cleanlab splits it: `rank` (how good is each label: per-annotation scores), `filter` (which
are issues: class flips, bad masks, missing objects), `summary` (counts, and how well each score finds injected
noise); the audit on top: `combine` (one row per annotation with every reason, ranked per type and combined),
`correction` (the one relabel policy), `noise_estimate` (the dataset's noise rate and transition matrix, confident
learning), `quality_gate` (whether the scoring models are good enough to act on); `objectlab`:
cleanlab.object_detection's box scores on the same arrays, the peer. The detectron2 side (a
model's evidence on a registered dataset, the outputs of tools/find_label_errors.py) is
noisy_seg.pseudo_labels.label_issues."""

from .combine import combine_issues
from .correction import count_label_changes, decide_corrections
from .filter import CLASS_METHODS, ISSUE_TYPES, best_match_iou, find_label_issue_table, find_label_issues, issue_list
from .noise_estimate import estimate_label_noise, injected_transition
from .objectlab import cleanlab_box_scores
from .quality_gate import quality_gate
from .rank import (
    SCORE_METHODS,
    calibrated_class_quality,
    foreground_probs,
    get_label_quality_scores,
    gmm_clean_probability,
)
from .summary import average_precision_gap, issue_counts, label_noise_benchmark, score_metrics

__all__ = [
    "CLASS_METHODS",
    "ISSUE_TYPES",
    "SCORE_METHODS",
    "average_precision_gap",
    "best_match_iou",
    "calibrated_class_quality",
    "cleanlab_box_scores",
    "combine_issues",
    "count_label_changes",
    "decide_corrections",
    "estimate_label_noise",
    "find_label_issue_table",
    "find_label_issues",
    "foreground_probs",
    "get_label_quality_scores",
    "gmm_clean_probability",
    "injected_transition",
    "issue_counts",
    "issue_list",
    "label_noise_benchmark",
    "quality_gate",
    "score_metrics",
]
