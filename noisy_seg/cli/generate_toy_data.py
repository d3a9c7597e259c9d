#!/usr/bin/env python
"""Generate the built-in toy-shapes data set (COCO and/or Cityscapes layout).

    python tools/generate_toy_data.py                          # default set, skipped if up to date
    python tools/generate_toy_data.py --seed 1 --num-train 1000  # a bigger set, in its own folder
    python tools/generate_toy_data.py --root /tmp/toy --num-train 64 --num-val 16 --image-size 96
    python tools/generate_toy_data.py --layout coco --force    # rewrite even if up to date

The training configs generate the default set on first use anyway. A set with other settings goes to
its own folder beside the default one (toy_shapes_seed1_train1000_val96_size128), is registered on
import under that name, and trains with
    dataloader.train.dataset.names=<name>_train dataloader.test.dataset.names=<name>_val
An existing set generated with other settings is never replaced without --force.
"""

import argparse
import sys
import time
from pathlib import Path

from noisy_seg.utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported

from noisy_seg.data.datasets.builtin import DEFAULT_PREFIX, DEFAULT_SETTINGS, custom_toy_folder
from noisy_seg.data.datasets.toy_shapes import (
    ensure_toy_dataset,
    read_manifest,
    write_toy_dataset,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help="output folder (default: $NOISY_SEG_DATASETS/toy_shapes, else "
        "${XDG_CACHE_HOME:-~/.cache}/noisy_seg/datasets/toy_shapes, for the default settings; a folder beside it "
        "named after the settings otherwise)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SETTINGS["seed"])
    parser.add_argument("--num-train", type=int, default=DEFAULT_SETTINGS["num_train"])
    parser.add_argument("--num-val", type=int, default=DEFAULT_SETTINGS["num_val"])
    parser.add_argument("--image-size", type=int, default=DEFAULT_SETTINGS["image_size"])
    parser.add_argument("--layout", choices=["coco", "cityscapes", "both"], default="both")
    parser.add_argument(
        "--force",
        action="store_true",
        help="regenerate even if the manifest matches, or replace a set generated with other settings",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = dict(
        seed=args.seed,
        num_train=args.num_train,
        num_val=args.num_val,
        image_size=args.image_size,
        layout=args.layout,
    )
    root = (args.root or custom_toy_folder(args.seed, args.num_train, args.num_val, args.image_size)).resolve()
    if root.exists() and not root.is_dir():
        print(f"error: --root {root} is a file; give a folder for the data set", file=sys.stderr)
        return 2
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
    except (ValueError, OSError) as error:
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
    print(how_to_train_on(root))
    return 0


def how_to_train_on(root: Path) -> str:
    """The dataset names a set is registered under (or how to register it)."""
    if root == custom_toy_folder(**DEFAULT_SETTINGS).resolve():
        prefix = DEFAULT_PREFIX
    elif root.parent == custom_toy_folder(**DEFAULT_SETTINGS).resolve().parent and root.name.startswith(
        f"{DEFAULT_PREFIX}_seed"
    ):
        prefix = root.name  # registered on import under its folder name
    else:
        return (
            f"outside the datasets folder: register it in your config with noisy_seg.data.datasets.builtin."
            f"register_toy_datasets('{root}', prefix='my_toy', ...) and the settings above"
        )
    return (
        f"registered as {prefix}_train / {prefix}_val; train on it with "
        f"dataloader.train.dataset.names={prefix}_train dataloader.test.dataset.names={prefix}_val"
    )


if __name__ == "__main__":
    sys.exit(main())
