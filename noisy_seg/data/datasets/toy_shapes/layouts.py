"""Writing rendered toy images in the COCO json layout and the Cityscapes leftImg8bit / gtFine layout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from ....noise.geometry import bbox_of_segmentation, mask_to_exact_polygons

from .render import GENERATOR_VERSION, SPLIT_CODES, TOY_CLASSES, TOY_SUPERCATEGORIES, ToySample, render_toy_sample

CITYSCAPES_CLASS_NAMES = ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")
CITYSCAPES_LABEL_IDS = (24, 25, 26, 27, 28, 31, 32, 33)
CITYSCAPES_TRAIN_IDS = (11, 12, 13, 14, 15, 16, 17, 18)
ROAD_LABEL_ID = 7  # the background is Cityscapes "road"
ROAD_TRAIN_ID = 0
CITY_NAME = "toycity"  # no underscore: cityscapesscripts splits file names on "_"


# ---------------------------------------------------------------------------------------------
# Cityscapes ground truth (the COCO encodings are the noise models', see noisy_seg.noise.geometry).
# ---------------------------------------------------------------------------------------------


def cityscapes_maps(sample: ToySample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cityscapes ground-truth maps (H, W) of a sample: instanceIds uint16 (label_id * 1000 +
    per-class instance index on objects, road label id 7 elsewhere), labelIds uint8,
    labelTrainIds uint8 (road 0, person..bicycle 11..18)."""
    if not isinstance(sample, ToySample):
        raise ValueError(f"sample must be a ToySample from render_toy_sample, got {type(sample).__name__}")
    shape = sample.image.shape[:2]
    instance_ids = np.full(shape, ROAD_LABEL_ID, dtype=np.uint16)
    label_ids = np.full(shape, ROAD_LABEL_ID, dtype=np.uint8)
    train_ids = np.full(shape, ROAD_TRAIN_ID, dtype=np.uint8)
    per_class_count = [0] * len(TOY_CLASSES)
    for obj in sample.objects:
        label_id = CITYSCAPES_LABEL_IDS[obj.class_index]
        instance_ids[obj.mask] = label_id * 1000 + per_class_count[obj.class_index]
        per_class_count[obj.class_index] += 1
        label_ids[obj.mask] = label_id
        train_ids[obj.mask] = CITYSCAPES_TRAIN_IDS[obj.class_index]
    return instance_ids, label_ids, train_ids


# ---------------------------------------------------------------------------------------------
# Writing the layouts.
# ---------------------------------------------------------------------------------------------


def coco_paths(root: str | os.PathLike, split: str) -> tuple[Path, Path]:
    """(json_file, image_root) of the COCO layout under ``root``."""
    if split not in SPLIT_CODES:
        raise ValueError(f"split must be one of {sorted(SPLIT_CODES)}, got {split!r}")
    root = Path(root)
    return root / "coco" / "annotations" / f"instances_{split}.json", root / "coco" / split


def cityscapes_paths(root: str | os.PathLike, split: str) -> tuple[Path, Path]:
    """(image_dir, gt_dir) of the Cityscapes layout under ``root``, as detectron2's loaders take them."""
    if split not in SPLIT_CODES:
        raise ValueError(f"split must be one of {sorted(SPLIT_CODES)}, got {split!r}")
    root = Path(root)
    return root / "cityscapes" / "leftImg8bit" / split, root / "cityscapes" / "gtFine" / split


def _write_png(path: Path, array: np.ndarray) -> None:
    ok, encoded = cv2.imencode(".png", array)
    if not ok:
        raise OSError(f"cv2 could not encode {path.name} as PNG")
    path.write_bytes(encoded.tobytes())


def _coco_categories() -> list[dict]:
    return [
        {
            "id": i + 1,
            "name": name,
            "supercategory": TOY_SUPERCATEGORIES[i],
            "cityscapes_name": CITYSCAPES_CLASS_NAMES[i],
        }
        for i, name in enumerate(TOY_CLASSES)
    ]


def _write_split(root: Path, split: str, seed: int, num_images: int, image_size: int, layouts: tuple[str, ...]) -> int:
    """Write one split in the requested layouts; returns the number of annotations."""
    json_file, image_root = coco_paths(root, split)
    image_dir, gt_dir = cityscapes_paths(root, split)
    if "coco" in layouts:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        image_root.mkdir(parents=True, exist_ok=True)
    if "cityscapes" in layouts:
        (image_dir / CITY_NAME).mkdir(parents=True, exist_ok=True)
        (gt_dir / CITY_NAME).mkdir(parents=True, exist_ok=True)

    images, annotations, num_annotations = [], [], 0
    for index in range(num_images):
        sample = render_toy_sample(seed, split, index, image_size)
        bgr = np.ascontiguousarray(sample.image[:, :, ::-1])
        if "coco" in layouts:
            image_id = index + 1
            file_name = f"{index:06d}.png"
            _write_png(image_root / file_name, bgr)
            images.append({"id": image_id, "file_name": file_name, "height": image_size, "width": image_size})
            for k, obj in enumerate(sample.objects):
                annotations.append(
                    {
                        # Stable per image (no running counter), so ids do not depend on num_images.
                        "id": image_id * 10 + k,
                        "image_id": image_id,
                        "category_id": obj.class_index + 1,
                        "bbox": bbox_of_segmentation(obj.mask, "mask"),
                        "area": int(obj.mask.sum()),
                        "iscrowd": 0,
                        "segmentation": mask_to_exact_polygons(obj.mask),
                    }
                )
        if "cityscapes" in layouts:
            stem = f"{CITY_NAME}_000000_{index:06d}"
            _write_png(image_dir / CITY_NAME / f"{stem}_leftImg8bit.png", bgr)
            instance_ids, label_ids, train_ids = cityscapes_maps(sample)
            _write_png(gt_dir / CITY_NAME / f"{stem}_gtFine_instanceIds.png", instance_ids)
            _write_png(gt_dir / CITY_NAME / f"{stem}_gtFine_labelIds.png", label_ids)
            _write_png(gt_dir / CITY_NAME / f"{stem}_gtFine_labelTrainIds.png", train_ids)
            # Cityscapes convention: full outlines back to front, each covering the earlier ones.
            last = image_size - 1
            objects = [{"label": "road", "polygon": [[0, 0], [last, 0], [last, last], [0, last]]}]
            objects += [
                {"label": CITYSCAPES_CLASS_NAMES[obj.class_index], "polygon": obj.outline.tolist()}
                for obj in sample.objects
            ]
            polygons = {"imgHeight": image_size, "imgWidth": image_size, "objects": objects}
            (gt_dir / CITY_NAME / f"{stem}_gtFine_polygons.json").write_text(json.dumps(polygons))
        num_annotations += len(sample.objects)
    if "coco" in layouts:
        coco = {
            "info": {
                "description": "noisy_seg toy shapes",
                "version": str(GENERATOR_VERSION),
                "seed": seed,
                "split": split,
            },
            "licenses": [],
            "images": images,
            "annotations": annotations,
            "categories": _coco_categories(),
        }
        json_file.write_text(json.dumps(coco))
    return num_annotations
