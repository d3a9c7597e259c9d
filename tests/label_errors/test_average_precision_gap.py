"""noisy_seg.label_errors.average_precision_gap: the AP gap of two scores and its bootstrap interval."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from noisy_seg.label_errors import average_precision_gap
from noisy_seg.utils.errors import UserInputError


def _scores(rng, n, separation):
    truth = rng.random(n) < 0.3
    return truth, rng.normal(size=n) - separation * truth  # lower: more likely an error


def test_a_clearly_better_score_leads_beyond_the_interval_and_the_gap_is_the_ap_difference():
    rng = np.random.default_rng(0)
    truth, good = _scores(rng, 600, 3.0)
    weak = rng.normal(size=600) - 0.3 * truth
    result = average_precision_gap(truth, good, truth, weak, paired=True, rounds=300)
    expected = average_precision_score(truth, -good) - average_precision_score(truth, -weak)
    assert result["gap"] == pytest.approx(expected)
    assert 0 < result["low"] < result["gap"] < result["high"] and result["rounds"] == 300


def test_two_equal_scores_give_an_interval_around_zero():
    rng = np.random.default_rng(1)
    truth, score = _scores(rng, 400, 1.0)
    result = average_precision_gap(truth, score, truth, score.copy(), paired=True, rounds=200)
    assert result["gap"] == 0.0 and result["low"] == result["high"] == 0.0  # paired: the same resample for both
    unpaired = average_precision_gap(truth, score, truth, score.copy(), paired=False, rounds=200)
    assert unpaired["low"] < 0 < unpaired["high"]  # each side drawn on its own: the spread of two draws


def test_unpaired_sides_may_rank_different_items_and_nan_ranks_last():
    rng = np.random.default_rng(2)
    truth_a, score_a = _scores(rng, 300, 2.0)
    truth_b, score_b = _scores(rng, 50, 0.0)
    score_b[:5] = np.nan
    result = average_precision_gap(truth_a, score_a, truth_b, score_b, paired=False, rounds=100, seed=3)
    assert result == average_precision_gap(truth_a, score_a, truth_b, score_b, paired=False, rounds=100, seed=3)
    assert result["low"] <= result["gap"] <= result["high"]


def test_degenerate_and_mismatched_inputs():
    truth = np.array([True, False, True, False])
    assert average_precision_gap(truth, [0, 1, 2, 3], ~truth | True, [0, 1, 2, 3], paired=True) is None
    with pytest.raises(UserInputError, match="paired scores must rank the same items"):
        average_precision_gap(truth, [0, 1, 2, 3], truth[:3], [0, 1, 2], paired=True)
