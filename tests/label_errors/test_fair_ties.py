"""Ranked metrics break ties fairly, never by input order (issue 21, item 6: cleanlab's all-equal overlooked scores,
listed per image by descending detection score, read P@10 0.327 instead of the error rate 0.229)."""

import itertools

import numpy as np
import pytest

from noisy_seg.label_errors.summary import average_precision_gap, precision_at_k, score_metrics

from noisy_seg.cli import label_error_evidence as evidence


def informative_order(errors: int, total: int) -> np.ndarray:
    """The probe's shape: the errors listed first (as detections come per image by score), every score equal."""
    return np.arange(total) < errors


def test_all_equal_scores_give_the_error_rate_whatever_the_order():
    is_error, score = informative_order(23, 100), np.full(100, 0.5)
    for order in (np.arange(100), np.arange(100)[::-1], np.random.default_rng(0).permutation(100)):
        metrics = score_metrics(is_error[order], score[order], ks=(1, 10, 50, 100))
        assert metrics["precision_at_k"] == pytest.approx({"1": 0.23, "10": 0.23, "50": 0.23, "100": 0.23})
        assert metrics["r_precision"] == pytest.approx(0.23)
        assert metrics["auroc"] == pytest.approx(0.5) and metrics["average_precision"] == pytest.approx(0.23)
    nan_scores = np.full(100, np.nan)  # nothing judged (cleanlab's NaN): all tied, ranked last
    assert score_metrics(is_error, nan_scores, ks=(10,))["precision_at_k"]["10"] == pytest.approx(0.23)


def test_a_cut_through_a_tie_counts_the_tie_by_its_expected_share():
    is_error = np.array([False, True, False, False, True])
    score = np.array([0.1, 0.2, 0.2, 0.2, 0.5])
    # k = 2: 0.1 (no error) and one of the three tied at 0.2, which hold one error: 1/3 of it
    assert precision_at_k(is_error, score, 2) == pytest.approx((0 + 1 / 3) / 2)
    assert precision_at_k(is_error, score, 4) == pytest.approx(1 / 4)  # the whole tie
    assert precision_at_k(is_error, score, 5) == pytest.approx(2 / 5)


@pytest.mark.parametrize("seed", range(5))
def test_precision_at_k_is_the_mean_over_every_order_of_the_ties(seed):
    rng = np.random.default_rng(seed)
    score = rng.integers(0, 3, 7).astype(float)  # few distinct values: many ties
    is_error = rng.random(7) < 0.4
    expected = {k: [] for k in range(1, 8)}
    for order in itertools.permutations(range(7)):  # every input order; a stable sort keeps it within a tie
        order = np.asarray(order)
        ranked = order[np.argsort(score[order], kind="stable")]
        for k in expected:
            expected[k].append(is_error[ranked[:k]].mean())
    for k, values in expected.items():
        assert precision_at_k(is_error, score, k) == pytest.approx(np.mean(values))


def test_auroc_ap_the_ap_gap_and_the_pr_curve_depend_on_no_order_of_ties():
    rng = np.random.default_rng(3)
    score = rng.integers(0, 4, 60).astype(float)
    is_error = rng.random(60) < 0.3
    errors_first = np.lexsort((~is_error, score))  # ties broken in the errors' favour
    errors_last = np.lexsort((is_error, score))
    first, last = (score_metrics(is_error[o], score[o], ks=(5, 20)) for o in (errors_first, errors_last))
    assert first.pop("precision_at_k") == pytest.approx(last.pop("precision_at_k")) and first == pytest.approx(last)
    other = rng.random(60)
    gaps = [
        average_precision_gap(is_error[o], score[o], is_error[o], other[o], paired=True, rounds=20)["gap"]
        for o in (errors_first, errors_last)
    ]
    assert gaps[0] == pytest.approx(gaps[1])
    curves = [evidence.precision_recall(is_error[o], score[o]) for o in (errors_first, errors_last)]
    for a, b in zip(*curves):
        np.testing.assert_allclose(a, b)
