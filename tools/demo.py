#!/usr/bin/env python
"""Train and evaluate suites of toy-data runs and print their AP table (`make demo`, `make bench-robust`).

    python tools/demo.py                   # suite "demo": clean labels, cross entropy
    python tools/demo.py --suite robust    # clean CE vs the paper's Sym 40 with CE / SCE / combination loss
    python tools/demo.py --suite robust --max-iter 100   # shorter, for a quick look
    python tools/demo.py --suite robust --reuse          # keep runs that already finished

Each run is `tools/train_net.py` in its own process, writing to OUTPUT/<run name>/; the table reads
the final evaluation from each run's metrics.json and describes each run from what it actually trained
with (its run_info.json: label noise and box-loss schedule). A bar chart goes to OUTPUT/<suite>_mask_ap.png.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from noisy_seg.engine.metrics import final_metrics  # noqa: E402
from noisy_seg.engine.run_info import read_run_info  # noqa: E402


@dataclass(frozen=True)
class Run:
    name: str
    config: str
    description: str
    overrides: tuple[str, ...] = field(default_factory=tuple)


_TOY = "projects/NoisyClassLabels/configs/toy"
SUITES: dict[str, list[Run]] = {
    "demo": [
        Run("clean_ce", "configs/toy/mask_rcnn_R18_FPN_ce.py", "clean labels, cross entropy"),
    ],
    # Yang et al. 2020 on toy data, with the paper's "Sym 40" (symmix40: 40% of labels redrawn over all 8
    # classes, so 35% flipped); evaluation is always on the clean val labels.
    "robust": [
        Run("clean_ce", "configs/toy/mask_rcnn_R18_FPN_ce.py", "clean labels, CE"),
        Run("symmix40_ce", f"{_TOY}/mask_rcnn_R18_FPN_ce.py", "paper's Sym 40, CE",
            ("dataloader.train.mapper.noise=symmix40",)),
        Run("symmix40_sce", f"{_TOY}/mask_rcnn_R18_FPN_sce.py", "paper's Sym 40, SCE (alpha 1, beta 0.1)",
            ("dataloader.train.mapper.noise=symmix40",)),
        Run("symmix40_combination", f"{_TOY}/combination_switch.py",
            "paper's Sym 40, CE then combination loss from half-way", ("dataloader.train.mapper.noise=symmix40",)),
    ],
}


def run_one(run: Run, output_root: Path, extra: list[str], reuse: bool = False) -> tuple[Path, dict, float]:
    out = output_root / run.name
    if reuse and (out / "model_final.pth").is_file() and final_metrics(out):
        print(f"\n=== {run.name}: reusing the finished run in {out}", flush=True)
        return out, final_metrics(out), float("nan")
    cmd = [sys.executable, str(REPO / "tools/train_net.py"), "--config-file", str(REPO / run.config),
           *run.overrides, f"train.output_dir={out}", *extra]
    print(f"\n=== {run.name}: {run.description}\n$ {' '.join(cmd)}", flush=True)
    start = time.monotonic()
    subprocess.run(cmd, check=True, cwd=REPO)
    return out, final_metrics(out), time.monotonic() - start


def format_table(rows: list[tuple[Run, Path, dict, float]]) -> str:
    from tabulate import tabulate

    table = [[run.name, what_ran(output_dir), _fmt(m.get("bbox/AP")), _fmt(m.get("segm/AP")),
              _fmt(m.get("segm/AP50")), f"{secs / 60:.1f}"] for run, output_dir, m, secs in rows]
    return tabulate(table, headers=["run", "what ran", "box AP", "mask AP", "mask AP50", "minutes"],
                    tablefmt="pipe")


def what_ran(output_dir: Path) -> str:
    """Label noise and box-loss schedule as the run recorded them when it started."""
    info = read_run_info(output_dir)
    if not info:
        return "n/a (no run_info.json)"
    noise = info.get("noise") or "clean labels"
    return f"{noise}; {info.get('box_loss', '?')} (of {info.get('max_iter')} iterations)"


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def plot_mask_ap(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [run.name for run, _, _, _ in rows]
    values = [m.get("segm/AP", 0.0) for _, _, m, _ in rows]
    fig, ax = plt.subplots(figsize=(1.6 * len(rows) + 2, 3.2))
    bars = ax.bar(names, values, color="#4c72b0")
    ax.bar_label(bars, fmt="%.1f")
    ax.set_ylabel("mask AP (clean val)")
    ax.set_title(path.stem.replace("_", " "))
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="demo")
    parser.add_argument("--output", type=Path, default=REPO / "output" / "demo")
    parser.add_argument("--max-iter", type=int, default=None, help="override train.max_iter of every run")
    parser.add_argument("--reuse", action="store_true", help="keep runs that already finished in --output")
    args = parser.parse_args(argv)
    if args.max_iter is not None and args.max_iter < 1:
        parser.error(f"--max-iter must be >= 1, got {args.max_iter}")

    extra = [] if args.max_iter is None else [f"train.max_iter={args.max_iter}", f"train.eval_period={args.max_iter}"]
    rows = [(run, *run_one(run, args.output, extra, args.reuse)) for run in SUITES[args.suite]]
    print(f"\nResults of suite '{args.suite}' (toy-shapes val, COCO-style AP):\n")
    print(format_table(rows))
    png = args.output / f"{args.suite}_mask_ap.png"
    plot_mask_ap(rows, png)
    print(f"\nchart: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
