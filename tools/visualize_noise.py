#!/usr/bin/env python
"""Draw clean vs noisy annotations side by side (detectron2's Visualizer) into one PNG.

    python tools/visualize_noise.py --noise sym40 --output output/noise_sym40.png
    python tools/visualize_noise.py --dataset toy_shapes_train --noise coco_n_hard --images 6

Left: the dataset's labels. Right: what NoisyDatasetMapper trains on for the same image (the same
keyed noise as tools/make_noisy_dataset.py): flipped classes show their new name, spatial noise its
changed mask, dropped annotations are missing.
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from noisy_seg.utils.library_warnings import quiet_library_warnings  # noqa: E402

quiet_library_warnings()  # before detectron2 is imported

import numpy as np  # noqa: E402

from detectron2.data import DatasetCatalog, MetadataCatalog  # noqa: E402
from detectron2.data import detection_utils as utils  # noqa: E402
from detectron2.utils.visualizer import Visualizer  # noqa: E402

from noisy_seg.data import check_datasets_available  # noqa: E402
from noisy_seg.noise import build_noise  # noqa: E402
from noisy_seg.noise.named import named_noise_spec  # noqa: E402
from noisy_seg.utils.errors import UserInputError  # noqa: E402


def draw(image_rgb, record, metadata, annotations):
    vis = Visualizer(image_rgb, metadata=metadata, scale=2.0)
    return vis.draw_dataset_dict({**record, "annotations": annotations}).get_image()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="toy_shapes_train")
    parser.add_argument("--noise", default="sym40", help="a noise name, see noisy_seg/noise/named.py")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--output", type=Path, default=Path("output/noise_examples.png"))
    args = parser.parse_args(argv)
    try:
        check_datasets_available([args.dataset])
        spec = named_noise_spec(args.noise)
    except (UserInputError, ValueError) as e:
        sys.exit(f"error: {e}")
    metadata = MetadataCatalog.get(args.dataset)
    pipeline = build_noise(spec, len(metadata.thing_classes)) if spec else None
    records = DatasetCatalog.get(args.dataset)
    # prefer images where the noise changed something, so the figure shows it
    rows = []
    for record in records:
        image = utils.read_image(record["file_name"], format="BGR")
        noisy = record["annotations"] if pipeline is None else pipeline.apply_to_annotations(
            record["annotations"], record["image_id"], image_hw=image.shape[:2], image=image)
        if pipeline is not None and all(a.get("noise") == "clean" for a in noisy) and len(records) > args.images * 4:
            continue
        rgb = image[:, :, ::-1]
        rows.append(np.hstack([draw(rgb, record, metadata, record["annotations"]), draw(rgb, record, metadata, noisy)]))
        if len(rows) == args.images:
            break
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(args.output.stem + ".tmp.png")
    import cv2

    cv2.imwrite(str(tmp), np.vstack(rows)[:, :, ::-1])
    os.replace(tmp, args.output)
    print(f"wrote {args.output}: {len(rows)} images, left clean, right {args.noise}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
