"""The audit's array side: one row per annotation with every reason (combine.py), the per-class calibrated class
ranking, the dataset's estimated noise (noise_estimate.py) and the quality gate (quality_gate.py)."""

import numpy as np
import pytest

from noisy_seg.label_errors.combine import REASON_BITS, combine_issues, reasons_of
from noisy_seg.label_errors.filter import find_label_issue_table
from noisy_seg.label_errors.noise_estimate import (
    draw_transition_matrices,
    estimate_label_noise,
    injected_transition,
    transition_distance,
)
from noisy_seg.label_errors.quality_gate import DEFAULT_MIN_HELDOUT_AP, quality_gate
from noisy_seg.label_errors.rank import calibrated_class_quality, get_label_quality_scores
from noisy_seg.utils.errors import UserInputError
from noisy_seg.utils.files import png_is_complete


def noisy_labels(rng, n, k, rate, weak_class=None):
    """(true, given, flipped, pred_probs): uniform flips to another class at `rate`; a model that puts logit +3 on
    the true class, and -3 on `weak_class` everywhere (a class it rarely predicts)."""
    true = rng.integers(0, k, n)
    flipped = rng.random(n) < rate
    given = true.copy()
    given[flipped] = (true[flipped] + rng.integers(1, k, flipped.sum())) % k
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), true] += 3.0
    if weak_class is not None:
        logits[:, weak_class] -= 3.0
    probs = np.exp(logits)
    return true, given, flipped, probs / probs.sum(axis=1, keepdims=True)


def test_one_row_per_annotation_with_every_reason_and_ranks_within_each_type():
    labels = np.array([0, 1, 0, 1])
    probs = np.array([[0.1, 0.9], [0.2, 0.8], [0.95, 0.05], [0.3, 0.7]])  # annotation 0 looks wrong
    table = find_label_issue_table(
        labels,
        probs,
        method="self_confidence",
        mask_iou=np.array([0.1, 0.9, 0.3, np.nan]),  # 0 and 2 are mask issues
        detection_scores=np.array([0.9, 0.6]),
        detection_classes=np.array([1, 0]),
        detection_best_iou=np.array([0.0, 0.1]),
    )
    assert list(table["type"]).count(0) == 1 and list(table["type"]).count(1) == 2  # annotation 0 listed twice
    rows = combine_issues(table, calibrated_class_quality(labels, probs))
    annotations = rows["index"][~rows["missing"]].tolist()
    assert sorted(annotations) == [0, 2]  # once each
    first = int(np.flatnonzero(~rows["missing"] & (rows["index"] == 0))[0])
    assert reasons_of(int(rows["reasons"][first])) == ["class", "mask"]
    assert rows["rank_class"][first] == 1 and rows["rank_mask"][first] == 1 and rows["suggested_class"][first] == 1
    assert rows["score"][first] == 0.5 and first == 0  # min(1/1, 1/2); ties: the type order (class first)
    detections = np.flatnonzero(rows["missing"])
    assert rows["index"][detections].tolist() == [0, 1] and rows["rank_missing"][detections].tolist() == [1, 2]
    assert (rows["reasons"][detections] == REASON_BITS["missing"]).all() and rows["given_class"][
        detections
    ].tolist() == [-1, -1]
    assert rows["suggested_class"][detections].tolist() == [1, 0]
    assert np.all(np.diff(rows["score"]) >= 0)


def test_types_interleave_by_their_rank_within_type_not_by_raw_scale():
    """A model weak at masks: every mask IoU near 0, far below any class score. Ranked by the raw scores the
    mask issues fill the whole top; combined, the types interleave in proportion to their counts."""
    rng = np.random.default_rng(0)
    _, given, flipped, probs = noisy_labels(rng, 400, 4, 0.1)
    mask_iou = rng.uniform(0.0, 0.05, 400)  # no mask noise at all, but a model that cannot draw masks
    table = find_label_issue_table(given, probs, method="confident_learning", mask_iou=mask_iou)
    by_raw_score = table["type"][:50]
    assert (by_raw_score == 1).mean() >= 0.95  # the raw ranking: nearly all mask issues first
    rows = combine_issues(table, calibrated_class_quality(given, probs))
    classes, masks = int((table["type"] == 0).sum()), int((table["type"] == 1).sum())
    with_class = (rows["reasons"][:50] & REASON_BITS["class"]) > 0
    expected = 50 * classes / masks  # the class issues' share of the first 50 rows, in proportion
    assert with_class.sum() >= expected - 2 and with_class.any()
    assert flipped[rows["index"][:50][with_class]].mean() > 0.9  # and they are the flips


def test_class_ranking_is_calibrated_per_class():
    """A class the model gives little probability everywhere: raw self-confidence ranks its labels first, the
    calibrated one ranks the flips first."""
    rng = np.random.default_rng(1)
    _, given, flipped, probs = noisy_labels(rng, 2000, 4, 0.1, weak_class=3)
    raw = get_label_quality_scores(given, probs, method="self_confidence")
    calibrated = calibrated_class_quality(given, probs)
    top_raw, top_calibrated = np.argsort(raw, kind="stable")[:100], np.argsort(calibrated, kind="stable")[:100]
    assert (given[top_raw] == 3).mean() > 0.5  # the weak class floods the raw ranking
    assert (given[top_calibrated] == 3).mean() < 0.35 and flipped[top_calibrated].mean() >= flipped[top_raw].mean()


def test_estimated_noise_is_close_to_the_injected_noise():
    rng = np.random.default_rng(2)
    true, given, flipped, probs = noisy_labels(rng, 4000, 4, 0.3)
    estimate = estimate_label_noise(given, probs)
    truth = injected_transition(given, true, 4)
    assert estimate["noise_rate"] == pytest.approx(flipped.mean(), abs=0.05)
    assert np.allclose(np.asarray(estimate["transition"]).sum(axis=0), 1.0)
    assert transition_distance(estimate["transition"], truth) < 0.03
    assert np.asarray(estimate["joint"]).sum() == pytest.approx(1.0)
    assert estimate["per_class"]["given"] == np.bincount(given, minlength=4).tolist()
    assert all(abs(w - 0.3) < 0.1 for w in estimate["per_class"]["estimated_wrong"])


def test_injected_transition_counts_given_over_clean():
    truth = injected_transition([0, 1, 1, 1], [0, 0, 1, 1], 3)
    assert truth.tolist() == [[0.5, 0.0, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]]  # class 2 unseen: identity column
    with pytest.raises(UserInputError, match="clean_labels must lie in 0..2"):
        injected_transition([0], [3], 3)
    with pytest.raises(UserInputError, match="at least 3 annotations"):
        estimate_label_noise([0, 1], [[0.5, 0.25, 0.25], [0.2, 0.6, 0.2]])


def test_transition_heat_map_is_a_png(tmp_path):
    path = tmp_path / "noise.png"
    draw_transition_matrices({"estimated": np.eye(3), "injected": injected_transition([0, 1], [1, 1], 3)}, None, path)
    assert png_is_complete(path)


def test_quality_gate():
    passed = quality_gate({"fold 0": 13.0, "fold 1": 8.7}, metric="segm/AP")
    assert passed["passed"] and passed["worst"] == 8.7 and passed["bar"] == DEFAULT_MIN_HELDOUT_AP
    failed = quality_gate({"fold 0": 13.0, "fold 1": 0.01}, metric="segm/AP")
    assert not failed["passed"] and "unreliable" in failed["verdict"] and "0.0 < 5" in failed["verdict"]
    assert not quality_gate({"checkpoint": None}, metric="segm/AP")["passed"]  # unmeasured: not trusted
    nothing = quality_gate({"fold 0": float("nan")}, metric="bbox/AP", bar=0)  # predicted nothing: AP 0
    assert nothing["models"] == {"fold 0": 0.0} and nothing["passed"]
