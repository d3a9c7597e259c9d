"""Boundary AP (Cheng et al., "Boundary IoU: Improving Object-Centric Image Segmentation Evaluation", CVPR 2021):
COCO's mask AP with each detection-to-ground-truth IoU replaced by min(mask IoU, boundary IoU), as the authors'
boundary-iou-api computes it (``COCOeval(..., iouType="boundary")``, read in bowenc0221/boundary-iou-api).

A mask's boundary is its pixels within d of its contour, d = ``dilation_ratio`` x the image diagonal (rounded, at
least 1 px; 0.02 as theirs), found by eroding the mask padded with zeros d times with a 3x3 kernel, so the image
edge counts as contour. Crowd ground truth keeps mask IoU. Boundary AP punishes sloppy outlines that mask AP
forgives on large objects: the score to read beside mask AP when the training masks' boundaries are noisy.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pycocotools.mask as mask_util
from detectron2.evaluation import COCOEvaluator
from detectron2.evaluation.coco_evaluation import _evaluate_predictions_on_coco
from pycocotools.cocoeval import COCOeval

__all__ = ["BoundaryAPEvaluator", "BoundaryCOCOeval", "mask_boundary"]

_SQUARE = np.ones((3, 3), dtype=np.uint8)


def mask_boundary(mask: np.ndarray, dilation_ratio: float = 0.02) -> np.ndarray:
    """uint8 (H, W) mask -> uint8 (H, W): its pixels within d of the contour or the image edge, d = dilation_ratio x
    diagonal (at least 1 px)."""
    height, width = mask.shape
    distance = max(1, int(round(dilation_ratio * np.sqrt(height**2 + width**2))))
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    eroded = cv2.erode(padded, _SQUARE, iterations=distance)[1 : height + 1, 1 : width + 1]
    return mask - eroded


class _BoundaryIoU:
    """computeIoU of COCOeval's "segm" type -> min(mask IoU, boundary IoU) on non-crowd ground truth."""

    dilation_ratio = 0.02

    def _boundary_rle(self, annotation: dict) -> dict:
        key = f"_boundary_{self.dilation_ratio}"  # kept on the annotation: the ground truth's serve every round
        if key not in annotation:
            boundary = mask_boundary(mask_util.decode(annotation["segmentation"]), self.dilation_ratio)
            annotation[key] = mask_util.encode(np.asfortranarray(boundary))
        return annotation[key]

    def computeIoU(self, imgId, catId):  # noqa: N802 (pycocotools' name)
        mask_ious = super().computeIoU(imgId, catId)
        if len(mask_ious) == 0:
            return mask_ious
        params = self.params
        if params.useCats:
            gts, dts = self._gts[imgId, catId], self._dts[imgId, catId]
        else:
            gts = [g for c in params.catIds for g in self._gts[imgId, c]]
            dts = [d for c in params.catIds for d in self._dts[imgId, c]]
        order = np.argsort([-d["score"] for d in dts], kind="mergesort")[: params.maxDets[-1]]  # as COCOeval's
        crowd = [int(g["iscrowd"]) for g in gts]
        boundary_ious = mask_util.iou(
            [self._boundary_rle(dts[i]) for i in order], [self._boundary_rle(g) for g in gts], crowd
        )
        ious = np.array(mask_ious)
        solid = np.asarray(crowd) == 0
        ious[:, solid] = np.minimum(ious[:, solid], np.asarray(boundary_ious)[:, solid])
        return ious


class BoundaryCOCOeval(_BoundaryIoU, COCOeval):
    """pycocotools' COCOeval (iouType "segm") scoring Boundary AP."""


def _boundary_cocoeval_fn(fast: bool, dilation_ratio: float):
    base = COCOeval
    if fast:
        from detectron2.evaluation.fast_eval_api import COCOeval_opt as base  # needs detectron2's compiled _C

    evaluator_class = BoundaryCOCOeval if base is COCOeval else type("BoundaryCOCOevalOpt", (_BoundaryIoU, base), {})

    def build(coco_gt, coco_dt, iou_type):
        evaluator = evaluator_class(coco_gt, coco_dt, iou_type)
        evaluator.dilation_ratio = dilation_ratio
        return evaluator

    return build


class BoundaryAPEvaluator(COCOEvaluator):
    """detectron2's COCOEvaluator plus a "boundary" task: Boundary AP of the predicted masks (AP, AP50, AP75,
    APs/m/l and per class, as "segm" reports them). Takes COCOEvaluator's arguments and ``dilation_ratio``."""

    def __init__(self, dataset_name, *args, dilation_ratio: float = 0.02, **kwargs):
        if not 0 < dilation_ratio <= 0.5:
            raise ValueError(f"dilation_ratio must lie in (0, 0.5] (0.02 as Boundary IoU's), got {dilation_ratio!r}")
        super().__init__(dataset_name, *args, **kwargs)
        self._dilation_ratio = float(dilation_ratio)

    def _eval_predictions(self, predictions, img_ids=None):
        # the same dicts super() maps to the dataset's category ids in place
        coco_results = list(itertools.chain(*[x["instances"] for x in predictions]))
        super()._eval_predictions(predictions, img_ids)
        if not self._do_evaluation or "segm" not in self._results:
            return
        self._logger.info(f"Boundary AP (min of mask and boundary IoU, dilation ratio {self._dilation_ratio}):")
        coco_eval = (
            _evaluate_predictions_on_coco(
                self._coco_api,
                coco_results,
                "segm",
                cocoeval_fn=_boundary_cocoeval_fn(self._use_fast_impl, self._dilation_ratio),
                img_ids=img_ids,
                max_dets_per_image=self._max_dets_per_image,
            )
            if coco_results
            else None
        )
        self._results["boundary"] = self._derive_coco_results(
            coco_eval, "segm", class_names=self._metadata.get("thing_classes")
        )
