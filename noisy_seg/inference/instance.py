"""An instance model over a dataset's annotations: a test-time mapper that carries each image's given (annotated)
boxes through the same transform as the image and decodes their masks (in the loader's workers), and the model's
predictions on those boxes plus, on request, its own detections, from one backbone pass per image
(`modeling.gt_box_inference.predict_on_given_boxes`).

    records = [{**record, GIVEN: given_annotations(boxes_xyxy, classes, segmentations)} for ...]
    mapper = GivenBoxMapper(augmentations=..., image_format="BGR", with_masks=True)
    for inputs, output in predict_dataset(model, records, mapper, predictor(with_masks=True, detect=True)):
        output["class_probs"], output["mask_probs"], output["instances"]
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

import detectron2.data.transforms as T
from detectron2.data import DatasetMapper
from detectron2.data import detection_utils as utils

from ..modeling.gt_box_inference import predict_on_given_boxes
from ..noise.geometry import segmentation_to_mask

__all__ = ["GIVEN", "GivenBoxMapper", "given_annotations", "predictor"]

GIVEN = "given_annotations"  # a record's key for what the mapper maps beside the image
_KEPT = ("file_name", "image_id", "height", "width")


def given_annotations(boxes_xyxy: np.ndarray, classes: Sequence[int], segmentations: Optional[list] = None) -> dict:
    """What GivenBoxMapper reads from a record: (N, 4) XYXY boxes at the record's size, (N,) contiguous classes and,
    for mask IoU, the N COCO segmentations (None: no masks)."""
    return {
        "boxes": np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4),
        "classes": np.asarray(classes, dtype=np.int64).reshape(-1),
        "segmentations": segmentations,
    }


class GivenBoxMapper(DatasetMapper):
    """detectron2's test-time DatasetMapper (read, check the size, test augmentations, CHW tensor) that also maps a
    record's GIVEN boxes with the image ("given_boxes": (N, 4) float32 in network-input coordinates, "given_classes")
    and, with `with_masks`, decodes their masks at the record's size ("given_masks": (N, H, W) bool, "has_mask":
    (N,) bool, False where an annotation has no usable mask). Other record keys pass through unchanged."""

    def __init__(self, *, augmentations: Sequence, image_format: str, with_masks: bool):
        super().__init__(is_train=False, augmentations=list(augmentations), image_format=image_format)
        self.with_masks = with_masks

    def __call__(self, record: dict) -> dict:
        given = record[GIVEN]
        image = utils.read_image(record["file_name"], format=self.image_format)
        utils.check_image_size(record, image)
        aug_input = T.AugInput(image, boxes=given["boxes"].copy())
        self.augmentations(aug_input)
        mapped = {key: value for key, value in record.items() if key not in (GIVEN, "annotations")}
        mapped["image"] = torch.as_tensor(np.ascontiguousarray(aug_input.image.transpose(2, 0, 1)))
        mapped["given_boxes"] = torch.as_tensor(aug_input.boxes, dtype=torch.float32).reshape(-1, 4)
        mapped["given_classes"] = torch.as_tensor(given["classes"])
        if self.with_masks:
            mapped["given_masks"], mapped["has_mask"] = _decoded_masks(given["segmentations"], record)
        return mapped


def _decoded_masks(segmentations, record) -> tuple[torch.Tensor, torch.Tensor]:
    height, width = record["height"], record["width"]
    masks = [segmentation_to_mask(segmentation, height, width) for segmentation in segmentations or []]
    has_mask = [mask is not None and bool(mask.any()) for mask in masks]
    stacked = np.zeros((len(masks), height, width), bool)
    for row, (mask, ok) in enumerate(zip(masks, has_mask)):
        if ok:
            stacked[row] = mask
    return torch.from_numpy(stacked), torch.as_tensor(has_mask, dtype=torch.bool)


def predictor(*, with_masks: bool, detect: bool):
    """`predict(model, batch)` for `predict_dataset` over GivenBoxMapper inputs: per image {"class_probs",
    "mask_probs" (None without `with_masks`)} and, with `detect`, "instances" (the model's own detections)."""

    def predict(model, batch: list[dict]) -> list[dict]:
        return predict_on_given_boxes(
            model,
            batch,
            [inputs["given_boxes"] for inputs in batch],
            classes=[inputs["given_classes"] for inputs in batch],
            predict_masks=with_masks,
            detect=detect,
        )

    return predict
