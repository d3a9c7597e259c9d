#!/usr/bin/env python
"""Per-annotation label-error scoring at scale: noisy_seg.label_errors' scoring and issue finding against cleanlab's
on the same inputs - annotations per second, wall time and peak memory, and the ratios ours / cleanlab, in one run.

    python benchmarks/bench_label_error_scoring.py              # 50,000 annotations over 5,000 images, 8 classes
    python benchmarks/bench_label_error_scoring.py --annotations 2000 --images 200 --rounds 3
    python benchmarks/bench_label_error_scoring.py --semantic   # then bench_semantic_label_errors.py's comparison
                                                                # (100 images of 512x1024; --semantic-* to change)

No model: the inputs are what tools/find_label_errors.py holds after the model pass (the evidence that
noisy_seg.pseudo_labels.label_issues turns into arrays), synthesized with --seed by noisy_seg.label_errors.synthetic
(its doc says how: 40% symmetric class flips, mask IoUs with 20% bad masks, detections with missing objects and false
positives) and then read by every method.

Each method runs in its own process (--rounds processes each, ours and cleanlab alternating; per step the median
time and the highest peak):
- ours: the array half of label_issue_report: `foreground_probs`, `get_label_quality_scores` by self_confidence,
  normalized_margin and gmm, `gmm_clean_probability` of the CE loss (DivideMix's GMM on a given loss),
  `best_match_iou` of the detections, `find_label_issues(method="confident_learning")` with the mask IoUs and the
  detections (cleanlab's confident learning inside; mask and missing-object issues) and `issue_counts`;
- cleanlab: the same `foreground_probs` (its input), `cleanlab.filter.find_label_issues(labels, pred_probs,
  n_jobs=1)`, `cleanlab.rank.get_label_quality_scores` by self_confidence and normalized_margin, and
  cleanlab.object_detection on the per-image labels and predictions as noisy_seg.label_errors.objectlab feeds it: the
  adapter (`cleanlab_inputs`), rank's swap / badloc / overlooked box scores (adapter + these = `cleanlab_box_scores`)
  and `object_detection.filter.find_label_issues`.
Memory: getrusage's high-water mark, reset before each step to the memory then (Linux, as
bench_semantic_label_errors.py does); "> base" is above the process with its imports and inputs loaded (the same
modules in both; a step's peak includes what earlier steps keep). Ratios ours / cleanlab: per annotation (ours but
best_match_iou vs foreground_probs, cleanlab.filter and rank), boxes (best_match_iou vs object_detection) and total;
the time ratio of median round sums, the memory ratios of the highest peak and of its "> base" MiB (a denominator
of at least 1).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cleanlab.filter
import cleanlab.rank
import numpy as np
from cleanlab.object_detection import filter as detection_filter
from cleanlab.object_detection import rank as detection_rank

from noisy_seg.utils.memory import loaded_mib, peak_mib
from noisy_seg.label_errors import (
    SCORE_METHODS,
    best_match_iou,
    find_label_issues,
    foreground_probs,
    get_label_quality_scores,
    gmm_clean_probability,
    issue_counts,
)
from noisy_seg.label_errors.objectlab import cleanlab_inputs
from noisy_seg.label_errors.synthetic import FLIP_RATE, IMAGE_SIZE, synthesize
from noisy_seg.utils.files import write_atomic

REPO = Path(__file__).resolve().parents[1]
METHODS = ("ours", "cleanlab")
CLEANLAB_SCORES = ("self_confidence", "normalized_margin")
GROUPS = {  # ratio row -> (ours' steps, cleanlab's steps); None: all
    "per annotation": (
        ("foreground_probs", "rank scores", "gmm of the loss", "find_label_issues"),
        ("foreground_probs", "filter.find_label_issues", "rank.get_label_quality_scores"),
    ),
    "boxes / missing objects": (
        ("best_match_iou",),
        ("object_detection adapter", "object_detection.rank", "object_detection.filter"),
    ),
    "total": (None, None),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotations", type=int, default=50_000, help="annotations N (default 50,000)")
    parser.add_argument("--images", type=int, default=5_000, help="images M (default 5,000; at most N)")
    parser.add_argument("--classes", type=int, default=8, help="classes K (default 8, as the toy data)")
    parser.add_argument("--rounds", type=int, default=1, help="processes per method (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    parser.add_argument("--no-instance", action="store_true", help="skip the per-annotation benchmark")
    parser.add_argument(
        "--semantic",
        action="store_true",
        help="also run bench_semantic_label_errors.py's comparison (ours vs cleanlab.segmentation)",
    )
    parser.add_argument("--semantic-images", type=int, default=100, help="its --num-images (default 100)")
    parser.add_argument(
        "--semantic-size",
        type=int,
        nargs=2,
        default=(512, 1024),
        metavar=("H", "W"),
        help="its --size (default 512 1024)",
    )
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.images <= args.annotations or args.classes < 2 or args.rounds < 1:
        parser.error("need 1 <= --images <= --annotations, --classes >= 2, --rounds >= 1")
    return args


# ------------------------------------------------------------------------------------------------- the steps
def _foreground(data, state):
    state["pred_probs"] = foreground_probs(data["class_probs"])


def _rank_scores(data, state):
    state["scores"] = {
        method: get_label_quality_scores(data["labels"], state["pred_probs"], method=method) for method in SCORE_METHODS
    }


def _gmm_of_loss(data, state):
    state["gmm_of_loss"] = gmm_clean_probability(data["losses"])


def _best_match_iou(data, state):
    state["best_iou"] = best_match_iou(data["detection_boxes"], data["detection_images"], data["boxes"], data["images"])


def _find_label_issues(data, state):
    issues = find_label_issues(
        data["labels"],
        state["pred_probs"],
        method="confident_learning",
        mask_iou=data["mask_iou"],
        detection_scores=data["detection_scores"],
        detection_classes=data["detection_classes"],
        detection_best_iou=state["best_iou"],
    )
    state["counts"] = issue_counts(issues)


def _cleanlab_filter(data, state):
    state["flagged"] = cleanlab.filter.find_label_issues(data["labels"], state["pred_probs"], n_jobs=1)


def _cleanlab_rank(data, state):
    state["scores"] = {
        method: cleanlab.rank.get_label_quality_scores(data["labels"], state["pred_probs"], method=method)
        for method in CLEANLAB_SCORES
    }


def _detection_adapter(data, state):
    state["labels"], state["predictions"], _, _ = cleanlab_inputs(
        data["boxes"],
        data["labels"],
        data["images"],
        data["detection_boxes"],
        data["detection_scores"],
        data["detection_classes"],
        data["detection_images"],
        num_classes=data["class_probs"].shape[1] - 1,
    )


def _detection_rank(data, state):
    inputs = {"labels": state["labels"], "predictions": state["predictions"]}
    state["box_scores"] = {
        "swap": detection_rank.compute_swap_box_scores(**inputs),
        "badloc": detection_rank.compute_badloc_box_scores(**inputs),
        "overlooked": detection_rank.compute_overlooked_box_scores(**inputs),
    }


def _detection_filter(data, state):
    state["flagged_images"] = detection_filter.find_label_issues(state["labels"], state["predictions"])


STEPS = {
    "ours": (
        ("foreground_probs", _foreground),
        ("rank scores", _rank_scores),
        ("gmm of the loss", _gmm_of_loss),
        ("best_match_iou", _best_match_iou),
        ("find_label_issues", _find_label_issues),
    ),
    "cleanlab": (
        ("foreground_probs", _foreground),
        ("filter.find_label_issues", _cleanlab_filter),
        ("rank.get_label_quality_scores", _cleanlab_rank),
        ("object_detection adapter", _detection_adapter),
        ("object_detection.rank", _detection_rank),
        ("object_detection.filter", _detection_filter),
    ),
}
STEP_NOTES = {
    "rank scores": "self_confidence, normalized_margin, gmm",
    "gmm of the loss": "gmm_clean_probability",
    "find_label_issues": "confident learning, mask, missing",
    "filter.find_label_issues": "confident learning",
    "rank.get_label_quality_scores": "self_confidence, normalized_margin",
    "object_detection adapter": "objectlab.cleanlab_inputs",
    "object_detection.rank": "swap, badloc, overlooked",
    "object_detection.filter": "find_label_issues",
}


def worker(method: str, folder: Path) -> dict:
    with np.load(folder / "inputs.npz") as stored:
        data = {name: stored[name] for name in stored.files}
    base = loaded_mib()
    state, steps = {}, []
    for name, step in STEPS[method]:
        loaded_mib()  # the high-water mark from here: this step's
        start = time.perf_counter()
        step(data, state)
        seconds = time.perf_counter() - start
        steps.append({"step": name, "seconds": seconds, "peak_rss_mib": peak_mib()})
        print(
            f"    {method}: {name} {seconds:.3f} s, peak {steps[-1]['peak_rss_mib']:.0f} MiB",
            file=sys.stderr,
            flush=True,
        )
    if method == "ours":
        found = {**state["counts"]}
    else:
        found = {"class": int(state["flagged"].sum()), "images": int(state["flagged_images"].sum())}
    return {"method": method, "base_rss_mib": base, "steps": steps, "found": found}


# ------------------------------------------------------------------------------------------------- the report
def _summary(runs: list, names) -> dict:
    """Median seconds (of each round's sum over `names`, None: every step) and the highest peak over the rounds."""
    seconds = statistics.median(
        sum(s["seconds"] for s in run["steps"] if names is None or s["step"] in names) for run in runs
    )
    peak = max(s["peak_rss_mib"] for run in runs for s in run["steps"] if names is None or s["step"] in names)
    base = max(run["base_rss_mib"] for run in runs)
    return {"seconds": seconds, "peak": peak, "above": max(peak - base, 0.0)}


def _row(label: str, note: str, summary: dict, annotations: int) -> str:
    return (
        f"{label:<42} {note:<38} {summary['seconds']:>9.4g} {annotations / summary['seconds']:>12,.0f} "
        f"{summary['peak']:>8.0f} {summary['above']:>8.1f}"
    )


def report(args, runs: dict, made: float, data: dict) -> None:
    n = args.annotations
    flipped = int((data["labels"] != data["clean_labels"]).sum())
    print(
        f"label-error scoring: {n:,} annotations over {args.images:,} images ({IMAGE_SIZE}x{IMAGE_SIZE}), "
        f"{args.classes} classes, {flipped:,} labels flipped (symmetric, p={FLIP_RATE}); "
        f"{len(data['detection_scores']):,} detections; synthesized in {made:.1f} s; each method in its own "
        f"process, {args.rounds} round(s): median time, highest peak"
    )
    print(f"{'method: step':<42} {'':<38} {'seconds':>9} {'annot./s':>12} {'peak MiB':>8} {'> base':>8}")
    for method in METHODS:
        for name, _ in STEPS[method]:
            print(_row(f"{method}: {name}", STEP_NOTES.get(name, ""), _summary(runs[method], (name,)), n))
        print(_row(f"{method}: total", "", _summary(runs[method], None), n))
    print(f"{'ours / cleanlab':<42} {'':<38} {'time':>9} {'annot./s':>12} {'peak':>8} {'> base':>8}")
    for group, (ours_steps, cleanlab_steps) in GROUPS.items():
        ours, peer = _summary(runs["ours"], ours_steps), _summary(runs["cleanlab"], cleanlab_steps)
        print(
            f"{group:<42} {'':<38} {ours['seconds'] / peer['seconds']:>8.3f}x "
            f"{peer['seconds'] / ours['seconds']:>11.3f}x {ours['peak'] / peer['peak']:>7.3f}x "
            f"{ours['above'] / max(peer['above'], 1.0):>7.3f}x"
        )
    ours, peer = runs["ours"][0]["found"], runs["cleanlab"][0]["found"]
    print(
        f"found: ours {ours['class']:,} class, {ours['mask']:,} mask, {ours['missing']:,} missing-object issues; "
        f"cleanlab {peer['class']:,} labels flagged, {peer['images']:,} of {args.images:,} images flagged by "
        f"object_detection"
    )


def run_instance(args) -> int:
    folder = Path(tempfile.mkdtemp(prefix="bench_label_error_scoring_"))
    try:
        print(f"synthesizing {args.annotations:,} annotations over {args.images:,} images", file=sys.stderr, flush=True)
        start = time.perf_counter()
        data = synthesize(args.annotations, args.images, args.classes, args.seed)
        made = time.perf_counter() - start
        write_atomic(folder / "inputs.npz", lambda temp: np.savez(temp, **data))
        runs = {method: [] for method in METHODS}
        for round_index in range(args.rounds):
            for method in METHODS:
                print(f"round {round_index + 1}/{args.rounds}: {method}", file=sys.stderr, flush=True)
                done = subprocess.run(
                    [sys.executable, __file__, "--worker", method, "--data", str(folder)],
                    stdout=subprocess.PIPE,
                    text=True,
                    cwd=REPO,
                )
                if done.returncode != 0:
                    return done.returncode
                runs[method].append(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(folder)
    report(args, runs, made, data)
    return 0


def run_semantic(args) -> int:
    """bench_semantic_label_errors.py's comparison, as its own process (a script is not imported by another)."""
    argv = ["--num-images", str(args.semantic_images), "--size", *map(str, args.semantic_size)]
    print(f"semantic: bench_semantic_label_errors.py {' '.join(argv)}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    script = Path(__file__).resolve().parent / "bench_semantic_label_errors.py"
    return subprocess.run([sys.executable, str(script), *argv], cwd=REPO).returncode


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, Path(args.data))))
        return 0
    code = 0 if args.no_instance else run_instance(args)
    if code == 0 and args.semantic:
        code = run_semantic(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
