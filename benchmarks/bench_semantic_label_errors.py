#!/usr/bin/env python
"""Label errors in semantic segmentation: our component scoring (Rottmann & Reese, seed 002) against
cleanlab.segmentation on the same pred_probs - wall time and peak memory as ratios in one run, and both methods'
PR-AUC under the seed's benchmark protocol.

    python benchmarks/bench_semantic_label_errors.py                           # 100 images of 512x1024, 19 classes
    python benchmarks/bench_semantic_label_errors.py --num-images 20 --size 256 512

Data (synthesized once, then read by every method): per image, smooth random class fields (class 0, the background,
biased up) whose argmax is the clean label map; the model's logits are those fields plus smooth noise (about 90% pixel
accuracy), softmaxed to pred_probs (N, K, H, W) float32; the given labels are the clean maps with each connected
component of the object classes 1..K-1 dropped to the background with probability --drop-fraction.

Each method runs in its own process on the same arrays (loaded whole, as cleanlab takes them); its peak resident
memory is getrusage's high-water mark (reset after loading, Linux), also given above the memory of the process with
its inputs loaded ("> inputs", the ratios' base).
- ours (saga): `component_metrics` of every image, the meta classifier fitted on the training half (the seed's L1
  logistic regression, solver saga) scoring the search half, the top-100 proposals;
- ours (liblinear): the same, with liblinear minimizing the same objective;
- cleanlab: `find_label_issues(labels, pred_probs)` (timed on its own: the "find" row), then
  `get_label_quality_scores(method="softmin")` and the components of flagged pixels (`cleanlab_proposals`; the
  "adapter" row is the whole).
PR-AUC: noisy_seg.label_errors.semantic's benchmark (dropped regions >= 250 px found by a proposal of their class with
IoU_adj >= 0.25, 21 thresholds) on the search half's images, for every method.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from noisy_seg.label_errors.semantic import (
    NUM_PROPOSALS,
    component_metrics,
    evaluate_proposals,
    find_proposals,
    flagged_components,
    image_proposals,
    score_images,
    split_images,
)
from noisy_seg.label_errors.semantic.synthetic import BACKGROUND, synthesize
from noisy_seg.utils.memory import loaded_mib, peak_mib
from noisy_seg.utils.files import write_atomic

REPO = Path(__file__).resolve().parents[1]
METHODS = ("ours_saga", "ours_liblinear", "cleanlab")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-images", type=int, default=100, help="images (default 100)")
    parser.add_argument(
        "--size", type=int, nargs=2, default=(512, 1024), metavar=("H", "W"), help="image size (default 512 1024)"
    )
    parser.add_argument("--num-classes", type=int, default=19, help="classes K (default 19)")
    parser.add_argument(
        "--drop-fraction",
        type=float,
        default=0.3,
        help="probability that a component of an object class is dropped (default 0.3)",
    )
    parser.add_argument("--seed", type=int, default=0, help="data and split seed (default 0)")
    parser.add_argument(
        "--cleanlab-jobs", type=int, default=1, help="cleanlab's n_jobs (default 1: one process, as ours)"
    )
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.num_images < 2 or min(args.size) < 16 or args.num_classes < 2 or not 0 <= args.drop_fraction <= 1:
        parser.error("need --num-images >= 2, --size >= 16 16, --num-classes >= 2, --drop-fraction in [0, 1]")
    return args


def write_data(folder: Path, args) -> None:
    height, width = args.size
    probs = np.lib.format.open_memmap(
        folder / "probs.npy", mode="w+", dtype=np.float32, shape=(args.num_images, args.num_classes, height, width)
    )
    clean = np.zeros((args.num_images, height, width), np.uint8)
    given = np.zeros_like(clean)
    for i in range(args.num_images):
        probs[i], clean[i], given[i] = synthesize(i, height, width, args.num_classes, args.drop_fraction, args.seed)
    probs.flush()
    del probs
    write_atomic(folder / "clean.npy", lambda temp: np.save(temp, clean))
    write_atomic(folder / "given.npy", lambda temp: np.save(temp, given))


def worker(args) -> dict:
    folder = Path(args.data)
    probs = np.load(folder / "probs.npy")  # whole, in memory: both methods get the same array
    clean, given = np.load(folder / "clean.npy"), np.load(folder / "given.npy")
    num_images, num_classes = probs.shape[:2]
    _, search = split_images(num_images, args.seed)
    inputs = loaded_mib()
    phases = {}
    if args.worker.startswith("ours"):
        start = time.perf_counter()
        images = [component_metrics(probs[i], given[i]) for i in range(num_images)]
        phases["metrics"] = time.perf_counter() - start
        start = time.perf_counter()
        scores, info = score_images(images, seed=args.seed, solver=args.worker.split("_")[1])
        top = find_proposals(images, scores, classes=list(range(1, num_classes)), top=NUM_PROPOSALS)
        phases["meta classifier + proposals"] = time.perf_counter() - start
        seconds, peak = sum(phases.values()), peak_mib()
        proposals = {i: image_proposals(images[i], scores[i]) for i in search}
        extra = {
            "C": info["classifiers"][0]["C"],
            "train_components": info["classifiers"][0]["train_components"],
            "top_proposals": len(top),
        }
    else:
        from cleanlab.segmentation.filter import find_label_issues
        from cleanlab.segmentation.rank import get_label_quality_scores

        start = time.perf_counter()
        issues = find_label_issues(given, probs, n_jobs=args.cleanlab_jobs, verbose=False)
        phases["find_label_issues"] = time.perf_counter() - start
        find_peak = peak_mib()
        start = time.perf_counter()  # the rest of cleanlab_proposals, timed apart
        _, pixel_scores = get_label_quality_scores(given, probs, method="softmin", verbose=False)
        proposals = {
            i: flagged_components(issues[i], probs[i].argmax(axis=0), 1.0 - pixel_scores[i], num_classes)
            for i in range(num_images)
        }
        phases["softmin scores + components"] = time.perf_counter() - start
        seconds, peak = sum(phases.values()), peak_mib()
        extra = {
            "find_seconds": phases["find_label_issues"],
            "find_peak_rss_mib": find_peak,
            "flagged_pixels": int(issues.sum()),
        }
    curve = evaluate_proposals(proposals, clean, given, search, num_classes, background=BACKGROUND)
    return {
        "method": args.worker,
        "seconds": seconds,
        "phases": phases,
        "inputs_rss_mib": inputs,
        "peak_rss_mib": peak,
        "curve": curve,
        **extra,
    }


def _row(name, seconds, peak, inputs, base_seconds, base_peak, base_inputs, curve=None) -> str:
    best = max(range(len(curve["f1"])), key=lambda k: curve["f1"][k]) if curve else None
    quality = (
        (
            f"{curve['pr_auc']:>7.3f} {curve['f1'][best]:>6.3f} @{curve['thresholds'][best]:.2f} "
            f"{curve['precision'][0]:>6.3f} {curve['recall'][0]:>6.3f}"
        )
        if curve
        else ""
    )
    return (
        f"{name:<34} {seconds:>8.2f} {seconds / base_seconds:>6.2f}x {peak:>8.0f} {peak - inputs:>8.0f} "
        f"{(peak - inputs) / max(base_peak - base_inputs, 1):>6.2f}x {quality}"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    folder = Path(tempfile.mkdtemp(prefix="bench_semantic_label_errors_"))
    try:
        start = time.perf_counter()
        write_data(folder, args)
        made = time.perf_counter() - start
        results = {}
        for method in args.methods:
            command = [
                sys.executable,
                __file__,
                "--worker",
                method,
                "--data",
                str(folder),
                "--seed",
                str(args.seed),
                "--cleanlab-jobs",
                str(args.cleanlab_jobs),
            ]
            done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
            if done.returncode != 0:
                print(done.stderr[-3000:], file=sys.stderr)
                return done.returncode
            results[method] = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder)
    height, width = args.size
    input_mib = args.num_images * (args.num_classes + 2) * height * width * 4 / 2**20
    print(
        f"semantic label errors: {args.num_images} images of {height}x{width}, {args.num_classes} classes, "
        f"components dropped with p={args.drop_fraction}; pred_probs float32 ({input_mib:.0f} MiB with the labels), "
        f"synthesized in {made:.1f} s; each method in its own process; cleanlab n_jobs={args.cleanlab_jobs}"
    )
    base = results.get("cleanlab")
    if base is None:
        print(json.dumps(results, indent=1))
        return 0
    regions = base["curve"]["regions"]
    print(
        f"PR-AUC etc. on the {len(split_images(args.num_images, args.seed)[1])} search images "
        f"({regions} dropped regions >= 250 px); ratios are to cleanlab's find_label_issues"
    )
    print(
        f"{'method':<34} {'seconds':>8} {'time':>7} {'peak MiB':>8} {'> inputs':>8} {'memory':>7} {'PR-AUC':>7} "
        f"{'max F1':>6} {'@t':>5} {'P(t=0)':>6} {'R(t=0)':>6}"
    )
    b_seconds, b_peak, b_inputs = base["find_seconds"], base["find_peak_rss_mib"], base["inputs_rss_mib"]
    print(_row("cleanlab find_label_issues", b_seconds, b_peak, b_inputs, b_seconds, b_peak, b_inputs))
    print(
        _row(
            "cleanlab adapter (+softmin, comps)",
            base["seconds"],
            base["peak_rss_mib"],
            b_inputs,
            b_seconds,
            b_peak,
            b_inputs,
            base["curve"],
        )
    )
    for method in ("ours_saga", "ours_liblinear"):
        if method in results:
            row = results[method]
            print(
                _row(
                    f"ours, {method.split('_')[1]}",
                    row["seconds"],
                    row["peak_rss_mib"],
                    row["inputs_rss_mib"],
                    b_seconds,
                    b_peak,
                    b_inputs,
                    row["curve"],
                )
            )
            print(
                "    "
                + ", ".join(f"{k} {v:.2f} s" for k, v in row["phases"].items())
                + f"; meta classifier C={'-' if row['C'] is None else format(row['C'], '.3g')} on "
                f"{row['train_components']} components"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
