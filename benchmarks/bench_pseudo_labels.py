#!/usr/bin/env python
"""Throughput and peak memory of semantic pseudo-label generation: 1 scale without flip vs the seed's default
5 scales x flip (noisy_seg.pseudo_labels.generate_pseudo_labels, end to end: image reading, the model, tag-free
argmax, both PNGs per image).

    python benchmarks/bench_pseudo_labels.py                            # toy val images (128x128), CPU
    python benchmarks/bench_pseudo_labels.py --image-size 1024 2048 --images 2   # Cityscapes size, random images

Each variant runs in a fresh process, so its peak resident memory (getrusage's high-water mark) is its own; the
model (the toy Semantic FPN, random init, or --config-file's) is built and warmed up on one image first (the first
pass at each input size pays one-off kernel setup), then --images images are timed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VARIANTS = {  # name -> (scales, flip)
    "1 scale, no flip": ((1.0,), False),
    "5 scales x flip": ((0.5, 0.75, 1.0, 1.25, 1.5), True),
}
TOY_VAL = "toy_shapes_cityscapes_sem_seg_val"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=24, help="images timed per variant (default 24)")
    parser.add_argument(
        "--image-size",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        help="time on random images of this size instead of the toy val images",
    )
    parser.add_argument("--config-file", default=str(REPO / "configs/toy/semantic_R18_FPN_ce.py"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--worker", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _rss_mib() -> float:
    """Current resident memory (Linux /proc), MiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _register(name: str, records: list[dict], like: str) -> str:
    from detectron2.data import DatasetCatalog, MetadataCatalog

    DatasetCatalog.register(name, lambda: records)
    MetadataCatalog.get(name).set(stuff_classes=list(MetadataCatalog.get(like).stuff_classes), ignore_label=255)
    return name


def _random_records(folder: Path, count: int, height: int, width: int) -> list[dict]:
    import numpy as np

    from noisy_seg.utils.files import write_image

    rng = np.random.default_rng(0)
    records = []
    for index in range(count):
        path = folder / f"random_{index:04d}.png"
        write_image(path, rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        records.append({"file_name": str(path), "height": height, "width": width, "image_id": index})
    return records


def worker(args) -> dict:
    """One variant in this process: build, warm up on one image, time --images images; a json line."""
    from noisy_seg.utils.library_warnings import quiet_library_warnings

    quiet_library_warnings()
    import torch
    from detectron2.config import LazyConfig, instantiate
    from detectron2.data import DatasetCatalog

    import noisy_seg.data  # noqa: F401  (registers the toy sets)
    from noisy_seg.pseudo_labels import generate_pseudo_labels

    scales, flip = VARIANTS[args.worker]
    work = Path(tempfile.mkdtemp(prefix="bench_pseudo_labels_"))
    if args.image_size:
        records = _random_records(work, args.images + 1, *args.image_size)
    else:
        records = [
            {k: v for k, v in r.items() if k != "sem_seg_file_name"}  # no quality pass: time the labelling
            for r in DatasetCatalog.get(TOY_VAL)[: args.images + 1]
        ]
    warmup = _register("bench_pseudo_labels_warmup", records[:1], TOY_VAL)
    timed = _register("bench_pseudo_labels_timed", records[1:], TOY_VAL)

    torch.manual_seed(0)
    model = instantiate(LazyConfig.load(args.config_file).model).to(args.device).eval()
    settings = dict(scales=scales, flip=flip, progress=False)
    rss_model = _rss_mib()
    try:
        generate_pseudo_labels(model, warmup, work / "warmup", **settings)
        start = time.perf_counter()
        generate_pseudo_labels(model, timed, work / "timed", **settings)  # its PNGs come back to the host: synced
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(work)
    height, width = records[1]["height"], records[1]["width"]
    gpu = {"peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20} if args.device.startswith("cuda") else {}
    return {
        **gpu,
        "variant": args.worker,
        "images": len(records) - 1,
        "size": f"{height}x{width}",
        "seconds": seconds,
        "images_per_s": (len(records) - 1) / seconds,
        "rss_after_model_mib": rss_model,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
        "threads": torch.get_num_threads(),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    results = []
    for name in VARIANTS:
        command = [
            sys.executable,
            __file__,
            "--worker",
            name,
            "--images",
            str(args.images),
            "--config-file",
            args.config_file,
            "--device",
            args.device,
        ]
        if args.image_size:
            command += ["--image-size", *map(str, args.image_size)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            return done.returncode
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    first = results[0]
    print(
        f"pseudo-label generation, {Path(args.config_file).name} (random init), {first['images']} images of "
        f"{first['size']}, device {args.device}, torch threads {first['threads']}; each variant in its own process"
    )
    print(f"{'variant':<18} {'images/s':>9} {'s/image':>8} {'time x':>6} {'RSS after model':>16} {'peak RSS':>9}")
    for row in results:
        print(
            f"{row['variant']:<18} {row['images_per_s']:>9.2f} {row['seconds'] / row['images']:>8.3f} "
            f"{first['images_per_s'] / row['images_per_s']:>5.1f}x {row['rss_after_model_mib']:>12.0f} MiB "
            f"{row['peak_rss_mib']:>5.0f} MiB"
            + (f"  peak GPU {row['peak_gpu_mib']:.0f} MiB" if "peak_gpu_mib" in row else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
