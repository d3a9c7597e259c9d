"""detectron2's Cityscapes instance dicts as a COCO dataset, so the offline noise tool can write a noisy
Cityscapes split as COCO json."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ...noise.geometry import bbox_format_of, segmentation_area

__all__ = ["cityscapes_to_coco"]


def cityscapes_to_coco(dataset_dicts: Sequence[Mapping], class_names: Sequence[str], image_root=None) -> dict:
    """detectron2 Cityscapes instance dicts -> COCO dict (category id = contiguous + 1, bbox XYWH).

    Annotations get no "id" here (noise is keyed by content, ids play no part); give ids after noising.
    ``file_name`` is made relative to ``image_root`` when given. Segmentations must be polygons (to_polygons=True).
    """
    images, annotations = [], []
    for record in dataset_dicts:
        height, width = int(record["height"]), int(record["width"])
        file_name = record["file_name"]
        if image_root is not None:
            file_name = os.path.relpath(file_name, image_root)
        images.append({"id": record["image_id"], "file_name": file_name, "height": height, "width": width})
        for ann in record.get("annotations", []):
            bbox = [float(v) for v in ann["bbox"]]
            if bbox_format_of(ann) == "xyxy":
                bbox = [bbox[0], bbox[1], bbox[2] - bbox[0], bbox[3] - bbox[1]]
            annotations.append(
                {
                    "image_id": record["image_id"],
                    "category_id": int(ann["category_id"]) + 1,
                    "bbox": bbox,
                    "segmentation": ann["segmentation"],
                    "area": segmentation_area(ann["segmentation"], (height, width)),
                    "iscrowd": int(bool(ann.get("iscrowd", 0))),
                }
            )
    categories = [{"id": index + 1, "name": name} for index, name in enumerate(class_names)]
    return {"images": images, "annotations": annotations, "categories": categories}
