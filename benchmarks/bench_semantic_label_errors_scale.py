#!/usr/bin/env python
"""Semantic label-error finding at dataset scale: memory and time of our component pipeline against the number of
images (the components in columnar shards, noisy_seg.label_errors.semantic.table), and cleanlab.segmentation's on the
same inputs where they fit.

    python benchmarks/bench_semantic_label_errors_scale.py                  # 50, 500 and 2,000 images of 512x1024
    python benchmarks/bench_semantic_label_errors_scale.py --num-images 20 100 --size 128 256 --cleanlab-images 20

Data: noisy_seg.label_errors.semantic.synthetic (19 classes, about 90% pixel accuracy, 30% of the object components
dropped from the given labels), each image made from (seed, index) where it is used, so no process holds the
dataset.
- ours: --jobs processes each take every --jobs-th image: softmax and given label map made, `component_metrics`, a
  shard of 50 images written (what find-semantic-label-errors does per process, the model's softmax aside); then a
  fresh process loads the shards (memory-mapped), merges them, fits the meta classifier (--solver, on at most
  --max-fit-components training components, a seeded sample beyond) and scores the search half in batches, and
  lists the top 100 proposals. Reported: the largest peak of the component processes and the scoring process's
  peak (getrusage's high-water mark, whole processes, imports included), the component processes' time summed
  (metrics and shards; making the synthetic softmax not counted) and the scoring's, the shards' size.
- cleanlab (the first --cleanlab-images images; 0: none): `find_label_issues(labels, pred_probs)` and
  `get_label_quality_scores(method="softmin")` on the whole softmax (N, K, H, W) float32 loaded in memory, as
  cleanlab.segmentation takes it (it must fit: 40 MiB per image at 19 x 512 x 1024); ours runs on the same images at
  that count (--num-images should include it).
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

from noisy_seg.utils.memory import loaded_mib, peak_mib

SHARD_IMAGES = 50
NUM_PROPOSALS = 100


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-images", type=int, nargs="+", default=[50, 500, 2000], help="image counts")
    parser.add_argument("--size", type=int, nargs=2, default=(512, 1024), metavar=("H", "W"))
    parser.add_argument("--num-classes", type=int, default=19)
    parser.add_argument("--drop-fraction", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="component processes (default 2)")
    parser.add_argument("--solver", default="liblinear", help="the meta classifier's solver (default liblinear)")
    parser.add_argument("--max-fit-components", type=int, default=50_000, help="fit sample cap (default 50,000)")
    parser.add_argument("--cleanlab-images", type=int, default=50, help="cleanlab's image count (default 50; 0: none)")
    parser.add_argument("--worker", choices=("components", "score", "cleanlab"), help=argparse.SUPPRESS)
    parser.add_argument("--part", type=int, nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.num_images) < 2 or args.jobs < 1 or min(args.size) < 16:
        parser.error("need --num-images >= 2, --jobs >= 1 and --size >= 16 16")
    return args


def _image(args, index: int):
    from noisy_seg.label_errors.semantic.synthetic import synthesize

    height, width = args.size
    return synthesize(index, height, width, args.num_classes, args.drop_fraction, args.seed)


# ------------------------------------------------------------------------------------------------- the workers
def components_worker(args) -> dict:
    from noisy_seg.label_errors.semantic import component_metrics
    from noisy_seg.label_errors.semantic.table import ComponentTable, merge_tables, save_component_shard

    part, parts = args.part
    pending, number, seconds = [], 0, 0.0
    for index in range(part, args.count, parts):
        probs, _, given = _image(args, index)
        start = time.perf_counter()  # ours only: making the synthetic softmax is not timed
        pending.append(ComponentTable.of([component_metrics(probs, given)], [index]))
        if len(pending) == SHARD_IMAGES or index + parts >= args.count:
            name = f"shard-{number:06d}-r{part}"
            save_component_shard(Path(args.folder), name, merge_tables(pending), {"fingerprint": "synthetic"})
            pending, number = [], number + 1
        seconds += time.perf_counter() - start
    return {"peak_mib": peak_mib(), "seconds": seconds}


def score_worker(args) -> dict:
    from noisy_seg.label_errors.semantic.filter import find_table_proposals
    from noisy_seg.label_errors.semantic.rank import score_table
    from noisy_seg.label_errors.semantic.table import load_component_shards, merge_tables

    base = loaded_mib()
    start = time.perf_counter()
    table = merge_tables(load_component_shards(Path(args.folder), "synthetic"))
    scores, info = score_table(table, seed=args.seed, solver=args.solver, max_fit_rows=args.max_fit_components)
    proposals = find_table_proposals(table, scores, classes=list(range(1, args.num_classes)), top=NUM_PROPOSALS)
    return {
        "seconds": time.perf_counter() - start,
        "peak_mib": peak_mib(),
        "imports_mib": base,
        "components": len(table),
        "fit_components": info["classifiers"][0]["train_components"],
        "proposals": len(proposals),
    }


def cleanlab_worker(args) -> dict:
    from cleanlab.segmentation.filter import find_label_issues
    from cleanlab.segmentation.rank import get_label_quality_scores

    height, width = args.size
    probs = np.empty((args.count, args.num_classes, height, width), np.float32)
    given = np.empty((args.count, height, width), np.int64)
    for index in range(args.count):
        probs[index], _, given[index] = _image(args, index)
    start = time.perf_counter()
    issues = find_label_issues(given, probs, n_jobs=1, verbose=False)
    get_label_quality_scores(given, probs, method="softmin", verbose=False)
    return {"seconds": time.perf_counter() - start, "peak_mib": peak_mib(), "flagged_pixels": int(issues.sum())}


# ------------------------------------------------------------------------------------------------- the run
def _call(args, worker: str, *extra) -> dict:
    common = ["--size", *map(str, args.size), "--num-classes", str(args.num_classes), "--seed", str(args.seed)]
    common += ["--drop-fraction", str(args.drop_fraction), "--solver", args.solver]
    common += ["--max-fit-components", str(args.max_fit_components)]
    command = [sys.executable, __file__, "--worker", worker, *common, *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def _result(process) -> dict:
    out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"a worker failed (exit {process.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def ours(args, count: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="bench_semantic_scale_"))
    try:
        start = time.perf_counter()
        workers = [
            _call(args, "components", "--part", str(k), str(args.jobs), "--count", str(count), "--folder", str(folder))
            for k in range(args.jobs)
        ]
        results = [_result(worker) for worker in workers]
        wall = time.perf_counter() - start
        shard_mib = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20
        scored = _result(_call(args, "score", "--folder", str(folder)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "images": count,
        "components_wall_seconds": wall,
        "components_seconds": sum(r["seconds"] for r in results),
        "components_peak_mib": max(r["peak_mib"] for r in results),
        "shard_mib": shard_mib,
        **scored,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker = {"components": components_worker, "score": score_worker, "cleanlab": cleanlab_worker}[args.worker]
        print(json.dumps(worker(args)))
        return 0
    rows = []
    for count in args.num_images:
        rows.append(ours(args, count))
        print(f"ours: {count} images done", file=sys.stderr, flush=True)
    cleanlab = None
    if args.cleanlab_images:
        cleanlab = _result(_call(args, "cleanlab", "--count", str(args.cleanlab_images)))
    height, width = args.size
    print(
        f"\nSemantic label errors, {args.num_classes} classes, {height}x{width}, {args.jobs} component processes, "
        f"solver {args.solver}, fit sample <= {args.max_fit_components:,}:\n"
    )
    print(
        "| images | components | component processes: peak MiB | process-seconds | shards MiB | "
        "scoring: peak MiB | above imports MiB | seconds | fit on |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['images']:,} | {r['components']:,} | {r['components_peak_mib']:.0f} | {r['components_seconds']:.1f} "
            f"| {r['shard_mib']:.0f} | {r['peak_mib']:.0f} | {r['peak_mib'] - r['imports_mib']:.0f} | "
            f"{r['seconds']:.1f} | {r['fit_components']:,} |"
        )
    if cleanlab:
        print(
            f"\ncleanlab.segmentation on the first {args.cleanlab_images} images (whole softmax in memory): peak "
            f"{cleanlab['peak_mib']:.0f} MiB, find_label_issues + softmin scores {cleanlab['seconds']:.1f} s "
            f"({cleanlab['flagged_pixels']:,} pixels flagged)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
