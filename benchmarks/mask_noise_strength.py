#!/usr/bin/env python
"""How much each spatial noise setting changes instance masks, and what it costs per image.

    python benchmarks/mask_noise_strength.py coco_n_easy coco_n_medium coco_n_hard maskboundary2 [--images 300]

For the first N images of a registered instance dataset (default toy_shapes_train), every annotation is noised as
NoisyDatasetMapper noises it; the table gives, per setting, the mean IoU of each noisy mask with its clean mask
(1 for an annotation left as it was), the share of annotations changed, the share below IoU 0.5, and the noise's
milliseconds per image. Use it to put settings of different noise models at a comparable strength.
"""

import argparse
import time

import numpy as np
import pycocotools.mask as mask_util
from detectron2.data import DatasetCatalog

import noisy_seg.data  # noqa: F401  (registers the toy sets)
from noisy_seg.noise import build_noise


def mask_of(segmentation, height: int, width: int) -> np.ndarray:
    if isinstance(segmentation, list):
        segmentation = mask_util.merge(mask_util.frPyObjects(segmentation, height, width))
    return mask_util.decode(segmentation).astype(bool)


def strength(records, noise_name: str, num_classes: int) -> dict:
    pipeline = build_noise(noise_name, num_classes)
    ious, start = [], time.perf_counter()
    for record in records:
        height, width = record["height"], record["width"]
        noisy = pipeline.apply_to_annotations(record["annotations"], record["image_id"], (height, width))
        for annotation in noisy:
            if "clean_segmentation" not in annotation:
                ious.append(1.0)
                continue
            clean = mask_of(annotation["clean_segmentation"], height, width)
            moved = mask_of(annotation["segmentation"], height, width)
            ious.append((clean & moved).sum() / max((clean | moved).sum(), 1))
    ious = np.asarray(ious)
    seconds = time.perf_counter() - start
    return {
        "mean_iou": ious.mean(),
        "changed": (ious < 1).mean(),
        "below_half": (ious < 0.5).mean(),
        "seconds": seconds,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("noise", nargs="+", help="noise names (e.g. coco_n_medium maskboundary2)")
    parser.add_argument("--dataset", default="toy_shapes_train", help="a registered instance dataset")
    parser.add_argument("--images", type=int, default=300, help="how many of its first images (default 300)")
    args = parser.parse_args(argv)
    records = DatasetCatalog.get(args.dataset)[: args.images]
    num_classes = 1 + max(a["category_id"] for r in records for a in r["annotations"])
    print(f"{args.dataset}: {len(records)} images, {sum(len(r['annotations']) for r in records)} annotations")
    print(f"{'noise':24s} {'mean IoU':>9s} {'changed':>8s} {'IoU<0.5':>8s} {'ms/image':>9s}")
    for name in args.noise:
        row = strength(records, name, num_classes)
        ms = 1000 * row["seconds"] / len(records)
        print(f"{name:24s} {row['mean_iou']:9.3f} {row['changed']:8.2f} {row['below_half']:8.2f} {ms:9.1f}", flush=True)


if __name__ == "__main__":
    main()
