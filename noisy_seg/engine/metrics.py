"""Reading a run's metrics.json (detectron2's JSONWriter: one json object per line) robustly.

A run killed and resumed from its last checkpoint logs some iterations twice (the ones after that checkpoint);
a run killed mid-write leaves a truncated last line. Rows are merged per iteration, later rows winning, and
unreadable lines are skipped.
"""

from __future__ import annotations

import json
import os

__all__ = ["final_metrics", "read_metrics"]


def read_metrics(path) -> list[dict]:
    """One dict per iteration, in iteration order; for a repeated iteration the values logged last win."""
    by_iteration: dict[int, dict] = {}
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:  # truncated by a kill
            continue
        if isinstance(row, dict) and isinstance(row.get("iteration"), int):
            by_iteration.setdefault(row["iteration"], {}).update(row)
    return [by_iteration[i] for i in sorted(by_iteration)]


def final_metrics(output_dir, keys=("segm/AP", "bbox/AP", "sem_seg/mIoU")) -> dict:
    """The last row holding an evaluation result ({} if the run never evaluated)."""
    rows = [r for r in read_metrics(os.path.join(output_dir, "metrics.json")) if any(k in r for k in keys)]
    return rows[-1] if rows else {}
