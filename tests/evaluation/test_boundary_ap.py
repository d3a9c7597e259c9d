"""Boundary AP: the boundary of a mask as Boundary IoU defines it, min(mask IoU, boundary IoU) per pair, and the
evaluator's "boundary" task beside COCOEvaluator's "segm"."""

import json

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import register_coco_instances
from detectron2.structures import Boxes, Instances
from pycocotools.coco import COCO

from noisy_seg.evaluation import BoundaryAPEvaluator
from noisy_seg.evaluation.boundary_ap import BoundaryCOCOeval, mask_boundary

HW = (96, 128)


def square(y, x, size, hw=HW):
    mask = np.zeros(hw, dtype=np.uint8)
    mask[y : y + size, x : x + size] = 1
    return mask


def test_the_boundary_is_the_band_within_d_of_the_outside_and_the_image_edge():
    rng = np.random.default_rng(0)
    for ratio in (0.01, 0.02, 0.05):
        d = max(1, round(ratio * np.hypot(*HW)))
        for _ in range(5):
            mask = (cv2.GaussianBlur(rng.random(HW), (0, 0), 6) > 0.5).astype(np.uint8)
            # chessboard distance to the nearest pixel outside the mask, the image's surroundings outside
            padded = np.pad(mask, 1)
            distance = cv2.distanceTransform(padded, cv2.DIST_C, 3)[1:-1, 1:-1]
            expected = (mask == 1) & (distance <= d)
            np.testing.assert_array_equal(mask_boundary(mask, ratio).astype(bool), expected)
    band = mask_boundary(square(0, 10, 20), 0.02)  # d = 3: a 3 px ring, the image's top edge included
    assert band[0:3, 10:30].all() and not band[3:17, 13:27].any() and band.sum() == 20 * 20 - 14 * 14


def coco_of(masks, labels):
    images = [{"id": 1, "file_name": "a.png", "height": HW[0], "width": HW[1]}]
    annotations = []
    for index, (mask, label) in enumerate(zip(masks, labels)):
        rle = mask_util.encode(np.asfortranarray(mask))
        rle["counts"] = rle["counts"].decode()
        x, y, w, h = mask_util.toBbox(rle).tolist()
        area = float(mask.sum())
        annotations.append(
            {
                "id": index + 1,
                "image_id": 1,
                "category_id": label,
                "segmentation": rle,
                "area": area,
                "bbox": [x, y, w, h],
                "iscrowd": 0,
            }
        )
    categories = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    return {"images": images, "annotations": annotations, "categories": categories}


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_each_pair_scores_the_smaller_of_mask_and_boundary_iou():
    ground_truth = [square(10, 10, 40), square(50, 70, 30)]
    detections = [square(12, 13, 40), square(50, 70, 24), square(60, 60, 8)]
    gt = COCO()
    gt.dataset = coco_of(ground_truth, [1, 1])
    gt.createIndex()
    results = []
    for score, mask in zip((0.9, 0.8, 0.7), detections):
        rle = mask_util.encode(np.asfortranarray(mask))
        results.append({"image_id": 1, "category_id": 1, "segmentation": rle, "score": score})
    evaluator = BoundaryCOCOeval(gt, gt.loadRes(results), "segm")
    evaluator.evaluate()
    ious = evaluator.ious[1, 1]
    for i, detection in enumerate(detections):
        for j, truth in enumerate(ground_truth):
            mask_iou = iou(detection, truth)
            boundary_iou = iou(mask_boundary(detection) == 1, mask_boundary(truth) == 1)
            assert ious[i, j] == pytest.approx(min(mask_iou, boundary_iou), abs=1e-9)
    assert ious[0, 0] < iou(detections[0], ground_truth[0]) - 0.3  # a 2-3 px shift: mask IoU 0.82, boundary less


@pytest.fixture
def toy_coco(tmp_path):
    masks = [square(5, 5, 40), square(50, 60, 40), square(60, 10, 20)]
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(coco_of(masks, [1, 2, 1])))
    name = f"boundary_ap_toy_{tmp_path.name}"
    register_coco_instances(name, {}, str(path), str(tmp_path))
    yield name, masks
    DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)


def run(name, masks, labels):
    evaluator = BoundaryAPEvaluator(name, tasks=("segm",), output_dir=None)
    DatasetCatalog.get(name)  # sets the metadata's category id mapping, as a data loader would
    evaluator.reset()
    instances = Instances(HW)
    instances.pred_masks = torch.as_tensor(np.stack(masks)).bool()
    instances.pred_boxes = Boxes(torch.tensor([[0.0, 0.0, HW[1], HW[0]]] * len(masks)))
    instances.scores = torch.linspace(0.9, 0.5, len(masks))
    instances.pred_classes = torch.as_tensor(labels)
    evaluator.process([{"image_id": 1, "height": HW[0], "width": HW[1]}], [{"instances": instances}])
    return evaluator.evaluate()


def test_evaluator_reports_boundary_ap_beside_mask_ap(toy_coco):
    name, masks = toy_coco
    exact = run(name, masks, [0, 1, 0])  # contiguous ids 0, 1 are the dataset's 1, 2
    assert exact["segm"]["AP"] == pytest.approx(100.0) and exact["boundary"]["AP"] == pytest.approx(100.0)
    shifted = [np.roll(mask, (2, 2), axis=(0, 1)) for mask in masks]
    result = run(name, shifted, [0, 1, 0])
    assert result["boundary"]["AP"] < result["segm"]["AP"] - 20  # the same masks, 2 px off: outlines matter
    assert set(result["boundary"]) == set(result["segm"])  # AP, AP50, AP75, APs/m/l and per class
    with pytest.raises(ValueError, match="dilation_ratio"):
        BoundaryAPEvaluator(name, dilation_ratio=0)
