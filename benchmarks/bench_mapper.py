#!/usr/bin/env python
"""Per-image time of NoisyDatasetMapper (class noise) vs detectron2's stock DatasetMapper on toy data.

    python benchmarks/bench_mapper.py [--images 256] [--rounds 7] [--noise sym40]

Both mappers get the same augmentations and the same dataset dicts; rounds alternate between them and
the median round is reported, with the overhead ratio (target: under 2% extra per image).
"""
import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import detectron2.data.transforms as T  # noqa: E402
from detectron2.data import DatasetCatalog, DatasetMapper  # noqa: E402

from alternating import alternating_medians, print_ratios  # noqa: E402
from noisy_seg.data import NoisyDatasetMapper  # noqa: E402


def time_round(mapper, dicts) -> float:
    start = time.perf_counter()
    for d in dicts:
        mapper(d)  # both mappers copy their input; no deepcopy here so only mapper work is timed
    return (time.perf_counter() - start) / len(dicts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--noise", default="sym40", help="noise name or 'clean' (see noisy_seg/noise/named.py)")
    args = parser.parse_args(argv)

    dicts = copy.deepcopy(DatasetCatalog.get("toy_shapes_train")[: args.images])
    common = dict(is_train=True, augmentations=[T.RandomFlip()], image_format="BGR", use_instance_mask=True)
    mappers = {"DatasetMapper (stock)": DatasetMapper(**common),
               f"NoisyDatasetMapper ({args.noise})": NoisyDatasetMapper(**common, noise=args.noise, num_classes=8)}
    for mapper in mappers.values():  # warm up caches and lazy imports
        time_round(mapper, dicts[:16])
    medians = alternating_medians(
        {name: (lambda m=mapper: time_round(m, dicts)) for name, mapper in mappers.items()}, args.rounds)
    print(f"{len(dicts)} toy images x {args.rounds} alternating rounds, median per-image time:")
    print_ratios(medians, "ms/image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
