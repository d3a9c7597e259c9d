"""benchmarks/bench_semantic_label_errors_scale.py's workers, in this process at a tiny size: two component
processes' shards make the table one process makes, the scoring worker reads them back, and cleanlab's worker runs on
the same images (no timing or memory assertion: those are read from the benchmark's table)."""

import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_semantic_label_errors_scale.py"


def test_the_workers_shard_score_and_compare_on_the_same_images(tmp_path):
    bench = runpy.run_path(str(BENCH))
    from noisy_seg.label_errors.semantic.table import load_component_shards, merge_tables

    common = dict(size=(48, 64), num_classes=4, drop_fraction=0.5, seed=3, solver="liblinear", count=6)
    for part in range(2):
        bench["components_worker"](SimpleNamespace(**common, part=(part, 2), folder=str(tmp_path / "two")))
    bench["components_worker"](SimpleNamespace(**common, part=(0, 1), folder=str(tmp_path / "one")))
    two = merge_tables(load_component_shards(tmp_path / "two", "synthetic"))
    one = merge_tables(load_component_shards(tmp_path / "one", "synthetic"))
    assert two.images["index"].tolist() == list(range(6)) and len(two) > 6
    for name, column in one.rows.items():
        np.testing.assert_array_equal(two.rows[name], column)
    scored = bench["score_worker"](SimpleNamespace(**common, folder=str(tmp_path / "two"), max_fit_components=10))
    assert scored["components"] == len(one) and scored["fit_components"] <= 10
    flagged = bench["cleanlab_worker"](SimpleNamespace(**common))
    assert flagged["flagged_pixels"] > 0
