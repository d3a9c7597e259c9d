#!/usr/bin/env python
"""Draw the memorization curves of one or several training runs into one PNG.

    python tools/plot_memorization.py output/toy/mask_rcnn_R18_FPN_ce --output output/memorization.png
    python tools/plot_memorization.py RUN_A RUN_B --labels CE combination --smooth 5 --output curves.png

For every run folder (a train.output_dir) it reads metrics.json and plots, against the iteration, among the labels
the noise changed: how often the model predicts the clean label (solid), the noisy label (dashed), and neither
(dash-dot: background or another class; the three sum to 1, so a classifier that calls everything background does
not read as "no memorization"). The dashed curve rising is the model memorizing the noise. A dotted vertical line
marks where a run switched from CE to another loss (its run_info.json). The scalars are logged by noisy_seg's heads
when the train mapper adds noise (runs logged before the third curve existed draw two).

Runs with spatial noise and a noisy mask head (projects/NoisyMasks) also get a second panel: over the RoIs whose mask
the noise changed, the mean IoU of the predicted mask with the clean mask (solid) and with the noisy one (dashed), and
on the RoIs it left alone with their mask (dotted): the dashed curve overtaking the solid one is the mask head
memorizing the noisy masks.
"""

import argparse
import sys
from pathlib import Path

from noisy_seg.utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported (noisy_seg.engine imports it)

import numpy as np
from matplotlib.figure import Figure

from noisy_seg.engine.metrics import read_metrics
from noisy_seg.engine.run_info import read_run_info
from noisy_seg.utils.errors import UserInputError, tool_exit_status
from noisy_seg.utils.files import save_figure

CLEAN, NOISY = "memorization/pred_is_clean_label", "memorization/pred_is_noisy_label"
OTHER = "memorization/pred_is_other_label"
CURVES = (
    ("clean", CLEAN, "-", "predicts the clean label"),
    ("noisy", NOISY, "--", "predicts the noisy label"),
    ("other", OTHER, "-.", "predicts neither (background or another class)"),
)
MASK_CURVES = (
    ("mask_clean", "memorization/mask_iou_with_clean_mask", "-", "IoU with the clean mask"),
    ("mask_noisy", "memorization/mask_iou_with_noisy_mask", "--", "IoU with the noisy mask"),
    ("mask_kept", "memorization/mask_iou_uncorrupted", ":", "IoU on the masks the noise left alone"),
)
MARKERS_UP_TO = 50  # points per curve: fewer are drawn with markers too (one point alone draws no line)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="training output folders")
    parser.add_argument("--output", type=Path, required=True, help="the .png file to write")
    parser.add_argument("--labels", nargs="+", help="one legend name per run (default: the folder names)")
    parser.add_argument(
        "--smooth", type=int, default=1, metavar="N", help="moving average over N logged points (default 1: none)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    return parser.parse_args(argv)


def check_args(args) -> list[str]:
    """The runs' labels for valid arguments; UserInputError (one line) otherwise."""
    if args.output.suffix.lower() != ".png":
        raise UserInputError(f"--output {args.output} must end in .png")
    if args.output.is_dir():
        raise UserInputError(f"--output {args.output} is a directory; give a .png file path")
    if args.output.exists() and not args.overwrite:
        raise UserInputError(f"--output {args.output} exists; pass --overwrite to replace it")
    if args.smooth < 1:
        raise UserInputError(f"--smooth must be at least 1 (1: no smoothing), got {args.smooth}")
    if args.labels is not None and len(args.labels) != len(args.runs):
        raise UserInputError(f"--labels gives {len(args.labels)} names for {len(args.runs)} runs; give one per run")
    return args.labels or [run.resolve().name for run in args.runs]


def memorization_curves(run: Path) -> dict:
    """{"clean" / "noisy" / "other" / "mask_clean" / "mask_noisy" / "mask_kept": (iterations, values)} of a run
    folder (empty where the run logged none: "other" before it existed, the mask curves without spatial noise or a
    noisy mask head); UserInputError when it has no metrics.json or no memorization scalars. A resumed run's repeated
    iterations count once (read_metrics)."""
    metrics = run / "metrics.json"
    if not metrics.is_file():
        raise UserInputError(f"{run} has no metrics.json: give the train.output_dir of a training run")
    rows = read_metrics(metrics)
    curves = {name: _points(rows, key) for name, key, _, _ in CURVES + MASK_CURVES}
    if not curves["clean"][0].size and not curves["mask_clean"][0].size:
        raise UserInputError(
            f"{metrics} has no memorization scalars ({CLEAN}, {MASK_CURVES[0][1]}): they are logged only when the "
            "train mapper adds label noise (dataloader.train.mapper.noise=...), by noisy_seg's heads"
        )
    return curves


def _points(rows, key):
    points = [(row["iteration"], row[key]) for row in rows if key in row]
    iterations, values = zip(*points) if points else ((), ())
    return np.asarray(iterations, dtype=np.int64), np.asarray(values, dtype=np.float64)


def moving_average(values: np.ndarray, n: int) -> np.ndarray:
    """Mean over the last n points (fewer at the start); n=1 returns the values."""
    if n <= 1 or values.size == 0:
        return values
    sums = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, values.size + 1)
    starts = np.maximum(ends - n, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


def switch_iteration(run: Path):
    """(iteration, loss name) where the run switched from CE to its configured loss, or None (run_info.json)."""
    schedule = read_run_info(run).get("loss_schedule") or {}
    if schedule.get("ce_iters") and schedule.get("loss_iters"):
        return schedule["loss_iters"][0], schedule["loss"]
    return None


def plot(runs, labels, smooth: int, output: Path) -> Figure:
    """One figure of every run's curves (checked first: a bad run stops it before anything is drawn), written to
    `output`; returns it. A panel for the labels and, where a run logged them, one for the masks."""
    curves = [memorization_curves(run) for run in runs]
    panels = [
        (kinds, ylabel, title)
        for kinds, ylabel, title in (
            (CURVES, "share of the labels the noise changed", "Memorization of label noise"),
            (MASK_CURVES, "mean mask IoU in the RoI", "Memorization of mask noise"),
        )
        if any(run_curves[kinds[0][0]][0].size for run_curves in curves)
    ]
    figure = Figure(figsize=(8, 4.5 * len(panels)), dpi=120)
    for axes, (kinds, ylabel, title) in zip(figure.subplots(len(panels), 1, squeeze=False)[:, 0], panels):
        for i, (run, label, run_curves) in enumerate(zip(runs, labels, curves)):
            color = f"C{i % 10}"
            for name, _, style, meaning in kinds:
                iterations, values = run_curves[name]
                if not iterations.size:
                    continue
                axes.plot(
                    iterations,
                    moving_average(values, smooth),
                    style,
                    color=color,
                    label=f"{label}: {meaning}",
                    marker="o" if iterations.size <= MARKERS_UP_TO else None,
                    markersize=4,
                )
            switch = switch_iteration(run)
            if switch is not None and kinds is CURVES:
                axes.axvline(
                    switch[0], color=color, linestyle=":", label=f"{label}: CE -> {switch[1]} at iteration {switch[0]}"
                )
        axes.set_xlabel("iteration")
        axes.set_ylabel(ylabel)
        axes.set_ylim(0, 1)
        axes.set_title(title + (f" (moving average of {smooth} points)" if smooth > 1 else ""))
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    figure.tight_layout()
    save_figure(figure, output, dpi="figure")  # the figure's own dpi, as savefig's default
    return figure


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        plot(args.runs, check_args(args), args.smooth, args.output)
    except UserInputError as e:
        sys.exit(f"error: {e}")
    except OSError as e:
        sys.exit(f"error: cannot write --output {args.output}: {e.strerror or e}")
    print(f"wrote {args.output}: {len(args.runs)} run(s)")
    return 0


if __name__ == "__main__":
    sys.exit(tool_exit_status(main))
