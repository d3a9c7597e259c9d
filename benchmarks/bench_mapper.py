#!/usr/bin/env python
"""Per-image time of NoisyDatasetMapper (class noise) vs detectron2's stock DatasetMapper, on the toy images and
on COCO-size images.

    python benchmarks/bench_mapper.py [--kind toy|coco|both] [--images 256] [--rounds 7] [--noise sym40]

toy: the built-in 128 px toy-shapes images. coco: synthetic 640x480 JPEGs with 7 polygon annotations each (the
COCO train mean), written to a temp folder. Both mappers get the same augmentations and the same dataset dicts;
rounds alternate between them and the median round is reported, with the overhead ratio (target at COCO size:
at most 2% extra per image).
"""

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import detectron2.data.transforms as T
from detectron2.data import DatasetCatalog, DatasetMapper
from detectron2.structures import BoxMode

from noisy_seg.engine.benchmarking import alternating_medians, print_ratios
from noisy_seg.data import NoisyDatasetMapper
from noisy_seg.utils.files import write_image


def time_round(mapper, dicts) -> float:
    start = time.perf_counter()
    for d in dicts:
        mapper(d)  # both mappers copy their input; no deepcopy here so only mapper work is timed
    return (time.perf_counter() - start) / len(dicts)


def coco_size_dicts(folder: Path, num_images: int, per_image: int = 7, seed: int = 0) -> list[dict]:
    """Synthetic COCO-size records: 640x480 JPEG (textured noise), `per_image` random polygons (8 classes)."""
    rng = np.random.default_rng(seed)
    dicts = []
    for index in range(num_images):
        path = folder / f"{index:06d}.jpg"
        pixels = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (5, 5), 0)
        write_image(path, pixels, [cv2.IMWRITE_JPEG_QUALITY, 90])
        annotations = []
        for _ in range(per_image):
            center, radius = rng.uniform([60, 60], [580, 420]), rng.uniform(15, 55)
            angles = np.sort(rng.uniform(0, 2 * np.pi, 16))
            points = center + radius * rng.uniform(0.6, 1.0, (16, 1)) * np.stack([np.cos(angles), np.sin(angles)], 1)
            (x0, y0), (x1, y1) = points.min(0), points.max(0)
            annotations.append(
                {
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "bbox_mode": BoxMode.XYWH_ABS,
                    "category_id": int(rng.integers(0, 8)),
                    "iscrowd": 0,
                    "segmentation": [points.reshape(-1).round(2).tolist()],
                }
            )
        dicts.append(
            {"file_name": str(path), "height": 480, "width": 640, "image_id": index + 1, "annotations": annotations}
        )
    return dicts


def compare(dicts, noise: str, rounds: int, label: str) -> None:
    common = dict(is_train=True, augmentations=[T.RandomFlip()], image_format="BGR", use_instance_mask=True)
    mappers = {
        "DatasetMapper (stock)": DatasetMapper(**common),
        f"NoisyDatasetMapper ({noise})": NoisyDatasetMapper(**common, noise=noise, num_classes=8),
    }
    for mapper in mappers.values():  # warm up caches and lazy imports
        time_round(mapper, dicts[:16])
    medians = alternating_medians(
        {name: (lambda m=mapper: time_round(m, dicts)) for name, mapper in mappers.items()}, rounds
    )
    print(f"{len(dicts)} {label} x {rounds} alternating rounds, median per-image time:")
    print_ratios(medians, "ms/image")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("toy", "coco", "both"), default="both")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--noise", default="sym40", help="noise name or 'clean' (see noisy_seg/noise/registry.py)")
    args = parser.parse_args(argv)

    if args.kind in ("toy", "both"):
        dicts = copy.deepcopy(DatasetCatalog.get("toy_shapes_train")[: args.images])
        compare(dicts, args.noise, args.rounds, "toy images (128 px)")
    if args.kind in ("coco", "both"):
        with tempfile.TemporaryDirectory(prefix="bench_mapper_") as folder:
            dicts = coco_size_dicts(Path(folder), args.images)
            compare(dicts, args.noise, args.rounds, "COCO-size images (640x480 JPEG, 7 polygons)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
