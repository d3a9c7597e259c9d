#!/usr/bin/env python
"""Generate the built-in toy-shapes data set (COCO and/or Cityscapes layout).

    python tools/generate_toy_data.py                          # default set, skipped if up to date
    python tools/generate_toy_data.py --root /tmp/toy --num-train 64 --num-val 16 --image-size 96
    python tools/generate_toy_data.py --layout coco --force    # rewrite even if up to date

The training configs generate it on first use anyway; this tool is for inspecting it or for
generating it ahead of a multi-process run.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from noisy_seg.data.datasets.builtin import toy_data_root  # noqa: E402
from noisy_seg.data.datasets.toy_shapes import (  # noqa: E402
    ensure_toy_dataset,
    read_manifest,
    write_toy_dataset,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help="output folder (default: $NOISY_SEG_DATASETS/toy_shapes, else datasets/generated/toy_shapes)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-train", type=int, default=512)
    parser.add_argument("--num-val", type=int, default=96)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--layout", choices=["coco", "cityscapes", "both"], default="both")
    parser.add_argument("--force", action="store_true", help="regenerate even if the manifest matches")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    root = (args.root or toy_data_root()).resolve()
    settings = dict(
        seed=args.seed,
        num_train=args.num_train,
        num_val=args.num_val,
        image_size=args.image_size,
        layout=args.layout,
    )
    start = time.perf_counter()
    try:
        if args.force:
            write_toy_dataset(root, **settings)
        else:
            before = read_manifest(root)
            ensure_toy_dataset(root, **settings)
            if read_manifest(root) == before:
                print(f"{root}: already up to date ({before['num_train']} train / {before['num_val']} val)")
                return 0
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    manifest = read_manifest(root)
    seconds = time.perf_counter() - start
    written = {
        "coco": "coco/annotations/instances_{train,val}.json, coco/{train,val}/*.png",
        "cityscapes": "cityscapes/leftImg8bit/{train,val}/toycity/*, cityscapes/gtFine/{train,val}/toycity/*",
    }
    for layout in manifest["layouts"]:
        print(f"{root}: {layout}: {written[layout]}")
    counts = manifest["num_annotations"]
    print(
        f"{manifest['num_train']} train images ({counts['train']} objects), "
        f"{manifest['num_val']} val images ({counts['val']} objects), "
        f"{manifest['image_size']}x{manifest['image_size']} px, seed {manifest['seed']}, "
        f"in {seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
