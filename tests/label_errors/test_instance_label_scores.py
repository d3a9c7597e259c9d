"""noisy_seg.label_errors on plain arrays: the scores of rank.py against hand computations and sklearn, the
issues of filter.py (confident learning is cleanlab's own), the metrics of summary.py on hand-made answers."""

import cleanlab.filter
import cleanlab.rank
import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from noisy_seg.label_errors import filter as label_filter
from noisy_seg.label_errors.filter import (
    best_match_iou,
    box_iou,
    find_class_issues,
    find_label_issues,
    find_mask_issues,
    find_missing_annotations,
)
from noisy_seg.label_errors.rank import (
    annotation_losses,
    foreground_probs,
    get_label_quality_scores,
    gmm_clean_probability,
    mask_quality_scores,
    suggested_labels,
)
from noisy_seg.label_errors.summary import (
    flag_metrics,
    issue_counts,
    label_noise_benchmark,
    precision_at_k,
    score_metrics,
)
from noisy_seg.utils.errors import UserInputError

PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.3, 0.3, 0.4]])
LABELS = np.array([0, 0, 2])


# ------------------------------------------------------------------------------------------------- rank
def test_foreground_probs_drop_background_and_renormalize():
    probs = foreground_probs([[0.2, 0.2, 0.6], [0.0, 0.0, 1.0], [0.3, 0.1, 0.6]])
    np.testing.assert_allclose(probs, [[0.5, 0.5], [0.5, 0.5], [0.75, 0.25]])  # all background: uniform


def test_self_confidence_and_normalized_margin_by_hand_and_by_cleanlab():
    np.testing.assert_allclose(get_label_quality_scores(LABELS, PROBS), [0.7, 0.1, 0.4])
    margin = get_label_quality_scores(LABELS, PROBS, method="normalized_margin")
    np.testing.assert_allclose(margin, [(0.7 - 0.2 + 1) / 2, (0.1 - 0.6 + 1) / 2, (0.4 - 0.3 + 1) / 2])
    for method in ("self_confidence", "normalized_margin"):
        np.testing.assert_array_equal(
            get_label_quality_scores(LABELS, PROBS, method=method),
            cleanlab.rank.get_label_quality_scores(LABELS, PROBS, method=method),
        )
    assert suggested_labels(LABELS, PROBS).tolist() == [1, 1, 0]  # the best other class (ties: the first)
    np.testing.assert_allclose(annotation_losses(LABELS, PROBS), -np.log([0.7, 0.1, 0.4]))


def test_gmm_clean_probability_splits_a_bimodal_loss_as_dividemix_does():
    rng = np.random.default_rng(0)
    losses = np.clip(np.concatenate([rng.normal(0.1, 0.02, 60), rng.normal(2.0, 0.1, 20)]), 0.01, None)
    clean = gmm_clean_probability(losses)
    assert (clean[:60] > 0.99).all() and (clean[60:] < 0.01).all()
    # DivideMix's recipe written out: min-max normalize, float32 (its losses are a float32 tensor), 2 components,
    # posterior of the low-mean one
    normalized = ((losses - losses.min()) / (losses.max() - losses.min())).astype(np.float32)[:, None]
    gmm = GaussianMixture(n_components=2, max_iter=10, tol=1e-2, reg_covar=5e-4, random_state=0).fit(normalized)
    np.testing.assert_allclose(clean, gmm.predict_proba(normalized)[:, gmm.means_.argmin()])
    np.testing.assert_allclose(gmm_clean_probability(3 * losses + 1), clean)  # min-max: scale-free
    # on class posteriors: the GMM of the cross entropy
    probs = np.where(np.arange(2)[None, :] == 0, np.exp(-losses)[:, None], 1 - np.exp(-losses)[:, None])
    np.testing.assert_allclose(get_label_quality_scores(np.zeros(80, int), probs, method="gmm"), clean)


def test_gmm_has_nothing_to_split_when_losses_are_equal_or_single():
    np.testing.assert_array_equal(gmm_clean_probability([0.3, 0.3, 0.3]), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(gmm_clean_probability([0.3]), [1.0])


def test_mask_quality_is_the_iou_nan_kept():
    np.testing.assert_array_equal(mask_quality_scores([0.5, np.nan, 1.0]), [0.5, np.nan, 1.0])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: get_label_quality_scores([0, 3], PROBS[:2]), "labels must lie in 0..2"),
        (lambda: get_label_quality_scores([0, 1, 2], PROBS[:2]), r"labels must be \(2,\)"),
        (lambda: get_label_quality_scores([0.0, 1.0], PROBS[:2]), "integer class indices"),
        (lambda: get_label_quality_scores([0, 1], [[0.5, 0.6], [0.5, 0.5]]), "row 0 sums to 1.1"),
        (lambda: get_label_quality_scores([0], [[1.0]]), "K >= 2"),
        (lambda: get_label_quality_scores(LABELS, PROBS, method="entropy"), "method must be one of"),
        (lambda: mask_quality_scores([1.5]), r"mask_iou must lie in \[0, 1\]"),
        (lambda: foreground_probs([[0.5, 0.5]]), "K >= 2 foreground classes"),
    ],
)
def test_rank_inputs_are_checked_once_with_a_clear_message(call, message):
    with pytest.raises(UserInputError, match=message):
        call()


# ------------------------------------------------------------------------------------------------- filter
def _noisy_classification(seed=0, n=200, k=4, flip=0.2):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), truth] += 3
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = truth.copy()
    flipped = rng.random(n) < flip
    labels[flipped] = (truth[flipped] + rng.integers(1, k, flipped.sum())) % k
    return labels, probs, flipped


def test_confident_learning_is_cleanlabs_find_label_issues(monkeypatch):
    labels, probs, flipped = _noisy_classification()
    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return cleanlab.filter.find_label_issues(*args, **kwargs)

    monkeypatch.setattr(label_filter, "_cleanlab_find_label_issues", spy)
    is_issue, scores = find_class_issues(labels, probs, method="confident_learning")
    assert len(calls) == 1
    np.testing.assert_array_equal(is_issue, cleanlab.filter.find_label_issues(labels, probs))
    np.testing.assert_array_equal(scores, probs[np.arange(len(labels)), labels])  # ranked by self-confidence
    assert is_issue[flipped].mean() > 0.5 > is_issue[~flipped].mean()  # it finds flips on this easy case
    with pytest.raises(UserInputError, match="takes no threshold"):
        find_class_issues(labels, probs, method="confident_learning", threshold=0.3)


def test_score_methods_flag_below_the_threshold():
    is_issue, scores = find_class_issues(LABELS, PROBS, method="normalized_margin")
    assert is_issue.tolist() == [False, True, False]
    is_issue, _ = find_class_issues(LABELS, PROBS, method="self_confidence", threshold=0.45)
    assert is_issue.tolist() == [False, True, True]


def test_box_iou_and_missing_objects_on_hand_made_boxes():
    assert box_iou([[0, 0, 10, 10]], [[5, 0, 10, 10], [0, 0, 10, 10], [20, 20, 5, 5]]).tolist() == [[1 / 3, 1, 0]]
    annotation_boxes = [[0, 0, 10, 10], [50, 50, 10, 10], [0, 0, 4, 4]]
    annotation_images = [1, 2, 2]
    detections = np.array(
        [
            [0, 0, 10, 10],  # image 1: the annotation itself
            [20, 20, 10, 10],  # image 1: nothing there -> missing
            [5, 0, 10, 10],  # image 1: IoU 1/3 -> missing
            [0, 0, 10, 10],  # image 2: overlaps only the small box (IoU 0.16), but scored low
            [52, 50, 10, 10],  # image 2: IoU 80/120
            [0, 0, 5, 5],  # image 3: no annotations at all -> missing
        ]
    )
    images = [1, 1, 1, 2, 2, 3]
    scores = np.array([0.9, 0.85, 0.95, 0.3, 0.7, 0.6])
    best = best_match_iou(detections, images, annotation_boxes, annotation_images)
    np.testing.assert_allclose(best, [1, 0, 1 / 3, 0.16, 2 / 3, 0])
    missing = find_missing_annotations(scores, best, score_threshold=0.5, match_iou=0.5)
    assert missing.tolist() == [False, True, True, False, False, True]

    issues = find_label_issues(
        LABELS,
        PROBS,
        method="normalized_margin",
        mask_iou=[0.9, np.nan, 0.2],
        detection_scores=scores,
        detection_classes=[0, 1, 2, 0, 1, 2],
        detection_best_iou=best,
    )
    assert [(i["type"], i["index"]) for i in issues] == [
        ("missing", 2),
        ("missing", 1),
        ("mask", 2),
        ("class", 1),
        ("missing", 5),
    ]  # by score, lower first
    assert issues[0] == {
        "type": "missing",
        "index": 2,
        "given_class": None,
        "suggested_class": 2,
        "score": pytest.approx(0.05),
    }
    assert issues[3] == {
        "type": "class",
        "index": 1,
        "given_class": 0,
        "suggested_class": 1,
        "score": pytest.approx(0.25),
    }
    assert issues[2]["given_class"] == 2 and issues[2]["suggested_class"] is None and issues[2]["score"] == 0.2
    assert find_mask_issues([0.9, np.nan, 0.2], threshold=0.5).tolist() == [False, False, True]


def test_string_image_ids_and_empty_inputs():
    best = best_match_iou([[0, 0, 2, 2]], ["a"], [[0, 0, 2, 2], [0, 0, 2, 2]], ["b", "a"])
    assert best.tolist() == [1.0]
    assert best_match_iou(np.zeros((0, 4)), [], [[0, 0, 1, 1]], [1]).shape == (0,)
    assert find_label_issues(np.zeros(0, int), np.zeros((0, 3)), method="confident_learning") == []


def test_filter_inputs_are_checked():
    with pytest.raises(UserInputError, match="method must be one of"):
        find_class_issues(LABELS, PROBS, method="margin")
    with pytest.raises(UserInputError, match="need detection_scores, detection_classes and detection_best_iou"):
        find_label_issues(LABELS, PROBS, detection_scores=[0.9])
    with pytest.raises(UserInputError, match=r"mask_iou must be \(3,\)"):
        find_label_issues(LABELS, PROBS, mask_iou=[0.5])
    with pytest.raises(UserInputError, match=r"threshold must be a number in \[0, 1\]"):
        find_class_issues(LABELS, PROBS, threshold=2)
    with pytest.raises(UserInputError, match=r"annotation_boxes must be \(N, 4\)"):
        best_match_iou([[0, 0, 1, 1]], [1], [[0, 0, 1]], [1])


# ------------------------------------------------------------------------------------------------- summary
def test_score_metrics_on_a_hand_made_ranking():
    is_error = np.array([True, False, True, False, False])
    quality = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    metrics = score_metrics(is_error, quality, ks=(1, 2, 10))
    # pairs (error, clean) ranked right: 0.1 beats all 3, 0.3 beats 2 of 3 -> 5/6; AP: (1/1 + 2/3) / 2
    assert metrics == {
        "annotations": 5,
        "errors": 2,
        "auroc": pytest.approx(5 / 6),
        "average_precision": pytest.approx(5 / 6),
        "precision_at_k": {"1": 1.0, "2": 0.5},
        "r_precision": 0.5,
    }
    assert precision_at_k(is_error, quality, 3) == pytest.approx(2 / 3)
    # NaN (nothing to judge) ranks last: the error at 0.1 becomes the last
    nan_first = score_metrics(is_error, np.array([np.nan, 0.2, 0.3, 0.4, 0.5]), ks=(1,))
    assert nan_first["precision_at_k"] == {"1": 0.0} and nan_first["auroc"] == pytest.approx(2 / 6)
    assert score_metrics(np.array([False, False]), np.array([0.1, 0.2]))["auroc"] is None


def test_flag_metrics_counts_and_benchmark():
    is_error = np.array([True, False, True, False, False])
    assert flag_metrics(is_error, np.array([True, True, False, False, False])) == {
        "flagged": 2,
        "true_positives": 1,
        "precision": 0.5,
        "recall": 0.5,
    }
    assert flag_metrics(is_error, np.zeros(5, bool))["precision"] is None
    report = label_noise_benchmark(
        [3, 1, 2, 2, 1],
        [1, 1, 1, 2, 1],
        {"s": np.array([0.1, 0.2, 0.3, 0.4, 0.5])},
        {"f": np.array([True, True, False, False, False])},
        ks=(1,),
    )
    assert report["flipped"] == 2 and report["scores"]["s"]["auroc"] == pytest.approx(5 / 6)
    assert report["flags"]["f"]["recall"] == 0.5
    issues = [{"type": "class"}, {"type": "missing"}, {"type": "class"}]
    assert issue_counts(issues) == {"class": 2, "mask": 0, "missing": 1, "total": 3}
    with pytest.raises(UserInputError, match="unknown issue types"):
        issue_counts([{"type": "typo"}])
