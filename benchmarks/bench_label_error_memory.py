#!/usr/bin/env python
"""Peak memory of instance label-error finding at scale, against the size of its array outputs: from the model's
evidence in columnar shards to every file tools/find_label_errors.py writes (issues.json, scores.json,
corrected.json, weighted.json, detections.json), at several annotation counts, one fresh process each.

    python benchmarks/bench_label_error_memory.py                         # 100,000 and 1,000,000 annotations
    python benchmarks/bench_label_error_memory.py --annotations 20000 100000 --classes 80

No model: the evidence is bench_label_error_scoring.py's synthesized one (noisy_seg.label_errors.synthetic: a
posterior per annotation with 40% of the labels flipped, mask IoUs, detections; one image per 10 annotations),
written as the tool writes it, in shards of 5,000 images (pseudo_labels/evidence_shards.py), beside a COCO json of
the same annotations (boxes, no polygons; `clean_category_id` on every one, as make_noisy_dataset.py writes it).

The inputs are written by one process; measured in a fresh one, after they are loaded (the json read with
load_json, the shards opened, memory-mapped) and the libraries the outputs import on first use are imported (matplotlib,
PIL, OpenCV: a fixed cost, not data), and the high-water mark reset to that ("base"): the peak resident memory
of `merge_evidence` + `label_issue_report` (confident learning, mask and missing-object issues) + writing the outputs,
above base. The array outputs: the merged evidence's arrays and the report's (the issue table, the three scores, the
flags, the detections' best IoU). Target: the peak above base <= 2x the array outputs, and linear in annotations (MiB
per annotation the same at every scale).
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

from noisy_seg.utils.memory import loaded_mib, peak_mib, return_freed_arrays_promptly

SHARD_IMAGES = 5_000
ANNOTATIONS_PER_IMAGE = 10


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--annotations", type=int, nargs="+", default=[100_000, 1_000_000], help="annotation counts (default 1e5 1e6)"
    )
    parser.add_argument("--classes", type=int, default=8, help="classes K (default 8, as the toy data)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.annotations) < ANNOTATIONS_PER_IMAGE or args.classes < 2:
        parser.error(f"need --annotations >= {ANNOTATIONS_PER_IMAGE} and --classes >= 2")
    return args


# ------------------------------------------------------------------------------------------------- the inputs
def write_inputs(folder: Path, num_annotations: int, num_classes: int, seed: int) -> None:
    """The synthesized evidence as shards of SHARD_IMAGES images, and the COCO json of its annotations."""
    from noisy_seg.label_errors.synthetic import synthesize
    from noisy_seg.pseudo_labels.evidence_shards import Evidence, save_shard
    from noisy_seg.utils.files import save_json_atomic

    num_images = num_annotations // ANNOTATIONS_PER_IMAGE
    data = synthesize(num_annotations, num_images, num_classes, seed)
    image_ids, category_ids = data["images"] + 1, np.arange(1, num_classes + 1)
    coco = {
        "images": [{"id": i + 1, "file_name": f"{i}.png", "height": 128, "width": 128} for i in range(num_images)],
        "annotations": [
            {
                "id": n + 1,
                "image_id": int(image),
                "category_id": int(label) + 1,
                "bbox": box,
                "area": box[2] * box[3],
                "iscrowd": 0,
                "clean_category_id": int(clean) + 1,
            }
            for n, (image, label, clean, box) in enumerate(
                zip(image_ids, data["labels"], data["clean_labels"], np.round(data["boxes"], 2).tolist())
            )
        ],
        "categories": [{"id": int(c), "name": f"class {c}"} for c in category_ids],
    }
    save_json_atomic(coco, folder / "dataset.json")
    del coco
    probs = data["class_probs"].astype(np.float32)
    rows = np.arange(num_annotations)
    labels = data["labels"]
    given_prob = probs[rows, labels]
    others = probs[:, :-1].copy()
    others[rows, labels] = -1
    for start in range(0, num_images, SHARD_IMAGES):
        images = np.arange(start, min(start + SHARD_IMAGES, num_images))
        mine = np.flatnonzero((data["images"] >= images[0]) & (data["images"] <= images[-1]))
        found = np.flatnonzero((data["detection_images"] >= images[0]) & (data["detection_images"] <= images[-1]))
        part = Evidence.empty(num_classes + 1, detected=True)
        part.images.update(image_id=images + 1, position=images)
        boxes = data["detection_boxes"][found].astype(np.float32)
        part.rows.update(
            index=mine,
            id=mine + 1,
            image_id=data["images"][mine] + 1,
            given=labels[mine].astype(np.int32),
            best_other=others[mine].argmax(axis=1).astype(np.int32),
            given_prob=given_prob[mine],
            best_other_prob=others[mine].max(axis=1),
            background_prob=probs[mine, -1],
            mask_iou=data["mask_iou"][mine].astype(np.float32),
            class_probs=probs[mine],
        )
        part.detections.update(
            image_id=data["detection_images"][found] + 1,
            position=data["detection_images"][found],
            box=boxes,
            score=data["detection_scores"][found].astype(np.float32),
            **{"class": data["detection_classes"][found].astype(np.int32)},
        )
        save_shard(folder / "evidence", f"shard-{start // SHARD_IMAGES:06d}", part, {"fingerprint": "synthetic"})


# ------------------------------------------------------------------------------------------------- the run
def nbytes(tables) -> int:
    total = 0
    for table in tables:
        for values in table.values():
            total += values.buffer.nbytes + values.ends.nbytes if hasattr(values, "ends") else np.asarray(values).nbytes
    return total


def _import_what_the_run_imports_late() -> None:
    """The libraries the outputs load on first use (the transition matrix PNG, the review page's thumbnails, the
    images' writer): a fixed cost of the program, not memory that grows with the annotations, so in the base."""
    import cv2  # noqa: F401
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    from PIL import Image  # noqa: F401


def worker(args) -> dict:
    from noisy_seg.cli.find_label_errors import detections_file
    from noisy_seg.pseudo_labels.evidence_shards import load_shards, merge_evidence
    from noisy_seg.pseudo_labels.label_issues import InstanceDataset, label_issue_report, write_label_issues
    from noisy_seg.utils.files import load_json, save_json_streamed

    folder, count = Path(args.folder), args.worker
    coco = load_json(folder / "dataset.json")
    id_map = {category["id"]: position for position, category in enumerate(coco["categories"])}
    data = InstanceDataset("synthetic", [], coco, id_map, str(folder / "dataset.json"))
    shards = load_shards(folder / "evidence", "synthetic")
    _import_what_the_run_imports_late()
    return_freed_arrays_promptly()  # as tools/find_label_errors.py does before its report
    base = loaded_mib()
    start = time.perf_counter()
    evidence = merge_evidence(shards)
    report = label_issue_report(data, evidence, method="confident_learning")
    output = folder / "output"
    write_label_issues(output, data, evidence, report, settings={"synthetic": count}, top=0, progress=False)
    save_json_streamed(detections_file(data, evidence, None, 0.5), output / "detections.json")
    seconds = time.perf_counter() - start
    peak = peak_mib()
    table = report["table"]
    arrays = (
        nbytes(
            [
                evidence.images,
                evidence.rows,
                evidence.skipped,
                evidence.detections,
                table["issues"],
                table["rows"],
                table["scores"],
                table["flags"],
                {"best_iou": table["best_iou"], "relabel": table["relabel"]},
            ]
        )
        / 2**20
    )
    return {
        "annotations": count,
        "issues": report["summary"]["issues"]["total"],
        "base_mib": base,
        "peak_above_base_mib": peak - base,
        "array_outputs_mib": arrays,
        "ratio": (peak - base) / arrays,
        "seconds": seconds,
        "output_mib": sum(p.stat().st_size for p in output.iterdir() if p.is_file()) / 2**20,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.prepare is not None:
        write_inputs(Path(args.folder), args.prepare, args.classes, args.seed)
        return 0
    if args.worker is not None:
        print(json.dumps(worker(args)))
        return 0
    results = []
    for count in args.annotations:
        folder = Path(tempfile.mkdtemp(prefix="bench_label_error_memory_"))
        try:
            common = ["--folder", str(folder), "--classes", str(args.classes), "--seed", str(args.seed)]
            subprocess.run(
                [sys.executable, __file__, "--prepare", str(count), *common], check=True, capture_output=True
            )
            done = subprocess.run(
                [sys.executable, __file__, "--worker", str(count), *common], check=True, capture_output=True, text=True
            )
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print(f"{count:,} annotations done", file=sys.stderr, flush=True)
    print(f"\nInstance label-error finding from evidence shards to every output, {args.classes} classes:\n")
    print(
        "| annotations | issues | inputs loaded (base) MiB | peak above base MiB | array outputs MiB | "
        "peak / arrays | MiB per 1k annotations | seconds | files written MiB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        per_thousand = 1000 * r["peak_above_base_mib"] / r["annotations"]
        print(
            f"| {r['annotations']:,} | {r['issues']:,} | {r['base_mib']:.0f} | {r['peak_above_base_mib']:.0f} | "
            f"{r['array_outputs_mib']:.0f} | {r['ratio']:.2f} | {per_thousand:.2f} | {r['seconds']:.1f} | "
            f"{r['output_mib']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
