"""benchmarks/bench_label_error_scoring.py at a tiny size, in a subprocess: the table has every step of both methods,
their totals and the three ratio rows, with finite numbers (positive times, throughputs and peaks; no timing
assertions)."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks" / "bench_label_error_scoring.py"
OURS = ("foreground_probs", "rank scores", "gmm of the loss", "best_match_iou", "find_label_issues", "total")
CLEANLAB = (
    "foreground_probs",
    "filter.find_label_issues",
    "rank.get_label_quality_scores",
    "object_detection adapter",
    "object_detection.rank",
    "object_detection.filter",
    "total",
)
RATIOS = ("per annotation", "boxes / missing objects", "total")


def _numbers(line: str, count: int) -> list[float]:
    """The last `count` fields of a table line as numbers (thousands separators and a trailing x dropped)."""
    return [float(field.rstrip("x").replace(",", "")) for field in line.split()[-count:]]


@pytest.mark.slow
def test_tiny_run_prints_every_row_with_finite_positive_numbers():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(BENCH), "--annotations", "200", "--images", "20", "--rounds", "1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("label-error scoring: 200 annotations over 20 images")
    assert "round 1/1: ours" in done.stderr and "cleanlab: object_detection.filter" in done.stderr  # progress

    rows = {line.split("  ")[0]: line for line in lines}
    expected = [f"ours: {step}" for step in OURS] + [f"cleanlab: {step}" for step in CLEANLAB]
    assert [line.split("  ")[0] for line in lines if line.startswith(("ours: ", "cleanlab: "))] == expected
    for name in expected:
        seconds, per_second, peak, above = _numbers(rows[name], 4)
        assert all(math.isfinite(v) for v in (seconds, per_second, peak, above)), rows[name]
        assert seconds > 0 and per_second > 0 and peak > 0 and above >= 0, rows[name]

    ratio_lines = lines[lines.index(next(line for line in lines if line.startswith("ours / cleanlab"))) + 1 :]
    assert [line.split("  ")[0] for line in ratio_lines[: len(RATIOS)]] == list(RATIOS)
    for line in ratio_lines[: len(RATIOS)]:
        time_ratio, throughput_ratio, peak_ratio, above_ratio = _numbers(line, 4)
        assert all(math.isfinite(v) for v in (time_ratio, throughput_ratio, peak_ratio, above_ratio)), line
        assert time_ratio > 0 and throughput_ratio > 0 and peak_ratio > 0 and above_ratio >= 0, line
    assert ratio_lines[len(RATIOS)].startswith("found: ours ")
