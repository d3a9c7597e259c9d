#!/usr/bin/env python
"""Time tools/make_noisy_dataset.py against a plain stdlib json.load + json.dump of the same file.

    python benchmarks/bench_make_noisy_dataset.py                     # COCO scale, temp dir
    python benchmarks/bench_make_noisy_dataset.py --images 1000 --annotations 7000 --path /tmp/x

Generates a synthetic COCO json (default 120k images, 860k annotations, ~20-vertex polygons,
the 80 COCO categories) in a temp dir (or --path), then runs, each in a fresh interpreter so
start-up and imports count for all: (a) stdlib json load + dump, (b) orjson load + dump, (c) the tool
with symmetric class noise. Prints the wall times and the tool's ratio to each (target vs orjson load + dump:
<= 1.2).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

from noisy_seg.noise.presets import COCO_THING_CATEGORIES
from noisy_seg.utils.files import write_atomic

REPO_ROOT = Path(__file__).resolve().parents[1]

STDLIB_ROUND_TRIP = "import json, sys; d = json.load(open(sys.argv[1])); json.dump(d, open(sys.argv[2], 'w'))"
ORJSON_ROUND_TRIP = (
    "import orjson, sys; d = orjson.loads(open(sys.argv[1], 'rb').read()); "
    "open(sys.argv[2], 'wb').write(orjson.dumps(d))"
)


def synthetic_coco(num_images: int, num_annotations: int, vertices: int, seed: int = 0) -> dict:
    """COCO-like dict with random polygons of ``vertices`` points (2-decimal coordinates)."""
    rng = np.random.default_rng(seed)
    widths = rng.choice([640, 480, 500, 427], num_images)
    heights = rng.choice([480, 640, 375, 333], num_images)
    images = [
        {"id": int(i + 1), "file_name": f"{i + 1:012d}.jpg", "height": int(h), "width": int(w)}
        for i, (h, w) in enumerate(zip(heights.tolist(), widths.tolist()))
    ]
    image_index = rng.integers(0, num_images, num_annotations)
    sizes = rng.uniform(4, 150, num_annotations)
    centers = np.stack(
        [
            rng.uniform(0, 1, num_annotations) * (widths[image_index] - 1),
            rng.uniform(0, 1, num_annotations) * (heights[image_index] - 1),
        ],
        axis=1,
    )
    angles = np.sort(rng.uniform(0, 2 * np.pi, (num_annotations, vertices)), axis=1)
    radii = sizes[:, None] * rng.uniform(0.5, 1.0, (num_annotations, vertices))
    points = centers[:, None, :] + radii[..., None] * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    points[..., 0] = np.clip(points[..., 0], 0, widths[image_index, None])
    points[..., 1] = np.clip(points[..., 1], 0, heights[image_index, None])
    points = np.round(points, 2)
    low, high = points.min(axis=1), points.max(axis=1)
    boxes = np.round(np.concatenate([low, high - low], axis=1), 2).tolist()
    polygons = points.reshape(num_annotations, -1).tolist()
    category_ids = np.asarray([c[0] for c in COCO_THING_CATEGORIES])[rng.integers(0, 80, num_annotations)].tolist()
    areas = np.round(np.pi * sizes**2 * 0.5, 2).tolist()
    image_ids = (image_index + 1).tolist()
    annotations = [
        {
            "id": j + 1,
            "image_id": image_ids[j],
            "category_id": category_ids[j],
            "segmentation": [polygons[j]],
            "area": areas[j],
            "bbox": boxes[j],
            "iscrowd": 0,
        }
        for j in range(num_annotations)
    ]
    categories = [{"id": cid, "name": name, "supercategory": sup} for cid, name, sup in COCO_THING_CATEGORIES]
    return {
        "info": {"description": "synthetic"},
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=120_000)
    parser.add_argument("--annotations", type=int, default=860_000)
    parser.add_argument("--vertices", type=int, default=20)
    parser.add_argument("--path", help="folder for the generated files (default: a temp dir, removed after)")
    args = parser.parse_args()

    folder = Path(args.path) if args.path else Path(tempfile.mkdtemp(prefix="bench_noisy_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        source = folder / "synthetic_coco.json"
        start = time.perf_counter()
        write_atomic(source, orjson.dumps(synthetic_coco(args.images, args.annotations, args.vertices)))
        print(f"generated {source} ({source.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s")

        stdlib = timed([sys.executable, "-c", STDLIB_ROUND_TRIP, str(source), str(folder / "stdlib_copy.json")])
        fast = timed([sys.executable, "-c", ORJSON_ROUND_TRIP, str(source), str(folder / "orjson_copy.json")])
        tool = timed(
            [
                sys.executable,
                str(REPO_ROOT / "tools" / "make_noisy_dataset.py"),
                "--input",
                str(source),
                "--output",
                str(folder / "noisy.json"),
                "--noise",
                "symmetric",
                "--rate",
                "0.4",
                "--seed",
                "0",
                "--overwrite",
            ]
        )
        print(f"stdlib json load + dump: {stdlib:.2f} s")
        print(f"orjson load + dump: {fast:.2f} s")
        print(f"make_noisy_dataset (symmetric 0.4): {tool:.2f} s")
        print(f"ratio tool / orjson: {tool / fast:.2f} (target <= 1.2); tool / stdlib: {tool / stdlib:.2f}")
    finally:
        if not args.path:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
