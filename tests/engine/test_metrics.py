"""metrics.json readers cope with resumed runs (repeated iterations) and kills mid-write (a truncated line)."""

import json

from noisy_seg.engine.metrics import final_metrics, read_metrics


def _write(path, rows, tail=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)


def test_repeated_iterations_keep_the_values_logged_last(tmp_path):
    # iterations 0-5 logged, killed, resumed from the checkpoint after iteration 3: 4 and 5 are logged again
    rows = [{"iteration": i, "total_loss": 10.0 - i} for i in range(6)]
    rows += [
        {"iteration": 4, "total_loss": 1.5},
        {"iteration": 5, "total_loss": 1.25, "lr": 0.1},
        {"iteration": 6, "segm/AP": 12.5, "bbox/AP": 13.0},
    ]
    _write(tmp_path / "metrics.json", rows, tail='{"iteration": 7, "total_lo')
    merged = read_metrics(tmp_path / "metrics.json")
    assert [r["iteration"] for r in merged] == [0, 1, 2, 3, 4, 5, 6]
    assert merged[4]["total_loss"] == 1.5 and merged[5] == {"iteration": 5, "total_loss": 1.25, "lr": 0.1}
    assert final_metrics(tmp_path) == {"iteration": 6, "segm/AP": 12.5, "bbox/AP": 13.0}
    assert read_metrics(tmp_path / "missing.json") == [] and final_metrics(tmp_path / "nowhere") == {}
