#!/usr/bin/env python
"""Draw clean vs noisy annotations side by side (detectron2's Visualizer) into one PNG.

    python tools/visualize_noise.py --noise sym40 --output output/noise_sym40.png
    python tools/visualize_noise.py --dataset toy_shapes_train --noise coco_n_hard --images 6

Left: the dataset's labels. Right: what NoisyDatasetMapper trains on for the same image (the same
keyed noise as tools/make_noisy_dataset.py): flipped classes show their new name, spatial noise its
changed mask, dropped annotations are missing.
"""
import argparse
import sys
from pathlib import Path

from noisy_seg.utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from detectron2.data import DatasetCatalog, MetadataCatalog  # noqa: E402
from detectron2.data import detection_utils as utils  # noqa: E402
from detectron2.utils.visualizer import Visualizer  # noqa: E402

from noisy_seg.data import NoisyDatasetMapper, check_datasets_available  # noqa: E402
from noisy_seg.utils.errors import UserInputError  # noqa: E402
from noisy_seg.utils.files import atomic_output  # noqa: E402

MAX_IMAGES = 64  # rows of one PNG; beyond this it is no longer a figure


def draw(image_rgb, record, metadata, annotations):
    vis = Visualizer(image_rgb, metadata=metadata, scale=2.0)
    return vis.draw_dataset_dict({**record, "annotations": annotations}).get_image()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="toy_shapes_train", help="a registered instance-segmentation dataset")
    parser.add_argument("--noise", default="sym40", help="a noise name, see noisy_seg/noise/named.py")
    parser.add_argument("--images", type=int, default=4, help=f"rows to draw, 1-{MAX_IMAGES}")
    parser.add_argument("--output", type=Path, default=Path("output/noise_examples.png"), help="a .png file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    return parser.parse_args(argv)


def check_args(args):
    """(metadata, NoisePipeline or None) for valid arguments; UserInputError (one line) otherwise."""
    if not 1 <= args.images <= MAX_IMAGES:
        raise UserInputError(f"--images must be between 1 and {MAX_IMAGES}, got {args.images}")
    if args.output.is_dir():
        raise UserInputError(f"--output {args.output} is a directory; give a .png file path")
    if args.output.suffix.lower() != ".png":
        raise UserInputError(f"--output {args.output} must end in .png")
    if args.output.exists() and not args.overwrite:
        raise UserInputError(f"--output {args.output} exists; pass --overwrite to replace it")
    check_datasets_available([args.dataset])
    metadata = MetadataCatalog.get(args.dataset)
    if not metadata.get("thing_classes", None):
        raise UserInputError(f"dataset '{args.dataset}' has no thing_classes: this tool draws instance annotations "
                             "(COCO- or Cityscapes-instance datasets)")
    try:
        pipeline = NoisyDatasetMapper.build_noise(args.noise, len(metadata.thing_classes))
    except ValueError as err:
        raise UserInputError(str(err)) from None
    return metadata, pipeline


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        metadata, pipeline = check_args(args)
        records = DatasetCatalog.get(args.dataset)
        if not any(record.get("annotations") for record in records):
            raise UserInputError(f"dataset '{args.dataset}' has no instance annotations to draw "
                                 "(a semantic-segmentation dataset?)")
    except (UserInputError, ValueError) as e:
        sys.exit(f"error: {e}")
    # prefer images where the noise changed something, so the figure shows it
    rows = []
    for record in records:
        if not record.get("annotations"):
            continue
        image = utils.read_image(record["file_name"], format="BGR")
        noisy = record["annotations"] if pipeline is None else pipeline.apply_to_annotations(
            record["annotations"], record["image_id"], image_hw=image.shape[:2], image=image)
        if pipeline is not None and all(a.get("noise") == "clean" for a in noisy) and len(records) > args.images * 4:
            continue
        rgb = image[:, :, ::-1]
        rows.append(np.hstack([draw(rgb, record, metadata, record["annotations"]), draw(rgb, record, metadata, noisy)]))
        if len(rows) == args.images:
            break
    try:
        write_png_atomic(np.vstack(rows)[:, :, ::-1], args.output)
    except OSError as e:
        sys.exit(f"error: cannot write --output {args.output}: {e}")
    print(f"wrote {args.output}: {len(rows)} images, left clean, right {args.noise}")
    return 0


def write_png_atomic(image_bgr: np.ndarray, path: Path) -> None:
    with atomic_output(path, suffix=".png") as temp:  # cv2 picks the format from the suffix
        if not cv2.imwrite(str(temp), image_bgr):
            raise OSError(f"cannot write {path}")


if __name__ == "__main__":
    sys.exit(main())
