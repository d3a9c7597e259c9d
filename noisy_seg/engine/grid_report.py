"""A grid's results as people read them: mean +- std over seeds per (loss, noise) cell, as markdown and CSV
(with every run's exact command), and a PNG of the metric against the noise setting per loss."""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

from ..utils.files import atomic_output, save_figure, write_atomic
from .grid import CellResult, Grid
from .launcher import FG_CALLED_BACKGROUND, NO_PREDICTIONS

__all__ = ["METRICS", "beyond_twice_the_spread", "mean_std", "summarize", "write_report"]

METRICS = ("segm/AP", "bbox/AP", "segm/AP50", "boundary/AP", FG_CALLED_BACKGROUND, "sem_seg/mIoU")


def mean_std(values: list[float]) -> tuple[float, float]:
    """(mean, sample std) over seeds; NaN where there is nothing (std: fewer than two values)."""
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else float("nan"))


def summarize(grid: Grid, results: list[CellResult]) -> list[dict]:
    """One row per (loss, noise) in grid order: n, failed, and mean / std of each metric present."""
    rows = []
    for loss in grid.loss_order:
        for noise in grid.noise_order:
            group = [r for r in results if r.cell.loss == loss and r.cell.noise == noise]
            if not group:
                continue
            ok = [r for r in group if r.status != "failed"]
            row = {
                "loss": loss,
                "noise": noise,
                "what ran": "; ".join(sorted({r.what_ran for r in ok if r.what_ran})),
                "n": len(ok),
                "failed": len(group) - len(ok),
                NO_PREDICTIONS: sum(1 for r in ok if r.metrics.get(NO_PREDICTIONS)),
                "seeds": " ".join(str(r.cell.seed) for r in ok),
                "failed_logs": " ".join(str(r.log) for r in group if r.status == "failed"),
            }
            for metric in METRICS:
                values = [r.metrics[metric] for r in ok if not math.isnan(r.metrics.get(metric, math.nan))]
                if values:
                    row[f"{metric} mean"], row[f"{metric} std"] = mean_std(values)
            rows.append(row)
    _compare_with_baseline(rows, grid.baseline)
    return rows


def _main_metric(row: dict) -> str | None:
    return next((m for m in ("segm/AP", "sem_seg/mIoU") if f"{m} mean" in row), None)


def beyond_twice_the_spread(gap: float, stds: tuple[float, float]) -> bool | None:
    """The project's bar for calling a difference: |gap| above twice the larger of the two stds over seeds (None
    where a side has fewer than two seeds)."""
    if any(math.isnan(std) for std in stds):
        return None
    return abs(gap) > 2 * max(stds)


def _compare_with_baseline(rows: list[dict], baseline: str) -> None:
    """Per row: its main metric minus the baseline loss's at the same noise ("vs <baseline>"), and whether the gap
    exceeds twice the larger of the two standard deviations (the bar for calling a loss better or worse; needs 2+
    seeds on both sides)."""
    by_noise = {r["noise"]: r for r in rows if r["loss"] == baseline}
    for row in rows:
        metric, base = _main_metric(row), by_noise.get(row["noise"])
        if row["loss"] == baseline or metric is None or base is None or f"{metric} mean" not in base:
            continue
        gap = row[f"{metric} mean"] - base[f"{metric} mean"]
        stds = (row.get(f"{metric} std", math.nan), base.get(f"{metric} std", math.nan))
        beyond = beyond_twice_the_spread(gap, stds)
        row[f"vs {baseline}"] = gap
        row["2 std"] = math.nan if beyond is None else 2 * max(stds)
        row["beyond 2 std"] = "n/a (one seed)" if beyond is None else ("yes" if beyond else "no")


def _fmt(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.1f} +- {std:.1f}" if not math.isnan(std) else f"{mean:.1f}"


def markdown(rows: list[dict]) -> str:
    metrics = [m for m in METRICS if any(f"{m} mean" in r for r in rows)]
    versus_key = next((key for r in rows for key in r if key.startswith("vs ")), None)
    compared = versus_key is not None
    lines = [
        "| loss | noise | what ran | "
        + " | ".join(f"{m} (mean +- std)" for m in metrics)
        + " | n |"
        + (f" {versus_key}, same noise (beyond 2 std?) |" if compared else ""),
        "|---|---|---|" + "---|" * len(metrics) + "---|" + ("---|" if compared else ""),
    ]
    for r in rows:
        cells = [_fmt(r.get(f"{m} mean", float("nan")), r.get(f"{m} std", float("nan"))) for m in metrics]
        n = f"{r['n']}" + (f" ({r['failed']} failed: {r['failed_logs']})" if r["failed"] else "")
        if r.get(NO_PREDICTIONS):
            n += f" ({r[NO_PREDICTIONS]} with no predictions: AP 0)"
        versus = ""
        if compared:
            versus = f" {r[versus_key]:+.1f} ({r['beyond 2 std']}) |" if versus_key in r else " |"
        lines.append(f"| {r['loss']} | {r['noise']} | {r['what ran']} | " + " | ".join(cells) + f" | {n} |" + versus)
    return "\n".join(lines)


def write_report(grid: Grid, results: list[CellResult], metric: str | None = None) -> dict[str, Path]:
    """summary.md, summary.csv, cells.csv (every run, its status, metrics and command) and <metric>.png in the
    grid's output folder (metric: mask AP for instance grids, mIoU for semantic ones); returns their paths."""
    grid.output.mkdir(parents=True, exist_ok=True)
    rows = summarize(grid, results)
    metric = metric or next((m for m in map(_main_metric, rows) if m), "segm/AP")
    paths = {
        "markdown": grid.output / "summary.md",
        "summary_csv": grid.output / "summary.csv",
        "cells_csv": grid.output / "cells.csv",
        "plot": grid.output / f"{metric.replace('/', '_')}.png",
    }
    text = f"# grid {grid.name}\n\n{grid.description}\n\n{markdown(rows)}\n\nCommands: cells.csv\n"
    write_atomic(paths["markdown"], text)
    _write_csv(paths["summary_csv"], rows)
    _write_csv(
        paths["cells_csv"],
        [
            {
                "cell": r.cell.name,
                "loss": r.cell.loss,
                "noise": r.cell.noise,
                "seed": r.cell.seed,
                "status": r.status,
                **{m: r.metrics.get(m, "") for m in METRICS},
                NO_PREDICTIONS: bool(r.metrics.get(NO_PREDICTIONS)),
                "what ran": r.what_ran,
                "minutes": f"{r.minutes:.2f}",
                "log": str(r.log),
                "command": r.command,
            }
            for r in results
        ],
    )
    plot(grid, rows, metric, paths["plot"])
    return paths


def _write_csv(path: Path, rows: list[dict]) -> None:
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_output(path, suffix=".csv") as temp, open(temp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def plot(grid: Grid, rows: list[dict], metric: str, path: Path) -> None:
    """The metric (mean +- std over seeds) against the noise settings, one line per loss."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2 * max(3, len(grid.noise_order)) + 2.5, 3.6))
    positions = {noise: i for i, noise in enumerate(grid.noise_order)}
    offsets = {loss: (i - (len(grid.loss_order) - 1) / 2) * 0.06 for i, loss in enumerate(grid.loss_order)}
    for loss in grid.loss_order:
        points = [
            (positions[r["noise"]] + offsets[loss], r[f"{metric} mean"], r.get(f"{metric} std", 0.0))
            for r in rows
            if r["loss"] == loss and f"{metric} mean" in r
        ]
        if points:
            xs, ys, errs = zip(*points)
            errs = [0.0 if math.isnan(e) else e for e in errs]
            ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, label=loss)
    ax.set_xticks(range(len(grid.noise_order)), grid.noise_order, rotation=20)
    ax.set_ylabel(f"{metric} (mean +- std over seeds)")
    ax.set_title(f"grid {grid.name}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        save_figure(fig, path, dpi=120)
    finally:
        plt.close(fig)
