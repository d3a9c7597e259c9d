"""Label errors in segmentation datasets, on plain arrays (numpy, scikit-learn, cleanlab; no torch, no
detectron2), split as cleanlab splits it: `rank` (how good is each label: per-annotation scores), `filter` (which
are issues: class flips, bad masks, missing objects), `summary` (counts, and how well each score finds injected
noise); `objectlab`: cleanlab.object_detection's box scores on the same arrays, the peer. The detectron2 side (a
model's evidence on a registered dataset, the outputs of tools/find_label_errors.py) is
noisy_seg.pseudo_labels.label_issues."""

from .filter import CLASS_METHODS, ISSUE_TYPES, best_match_iou, find_label_issue_table, find_label_issues, issue_list
from .objectlab import cleanlab_box_scores
from .rank import SCORE_METHODS, foreground_probs, get_label_quality_scores, gmm_clean_probability
from .summary import average_precision_gap, issue_counts, label_noise_benchmark, score_metrics

__all__ = [
    "CLASS_METHODS",
    "ISSUE_TYPES",
    "SCORE_METHODS",
    "average_precision_gap",
    "best_match_iou",
    "cleanlab_box_scores",
    "find_label_issue_table",
    "find_label_issues",
    "foreground_probs",
    "get_label_quality_scores",
    "gmm_clean_probability",
    "issue_counts",
    "issue_list",
    "label_noise_benchmark",
    "score_metrics",
]
