"""A trained Mask R-CNN's view of the annotated instances of a COCO-format dataset: per annotation, the box
classifier's class posterior on its annotated box (the GT boxes as proposals) and the IoU of the predicted mask with
the annotated one, and on request the model's own confident detections (`collect_evidence`). Label correction
(instance.py) and label-issue finding (label_issues.py) both read it; what to make of it is decided elsewhere.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import numpy as np
import pycocotools.mask as mask_util
import torch
from tqdm import tqdm

import detectron2.data.transforms as T
from detectron2.data import MetadataCatalog
from detectron2.data import detection_utils as utils

from ..modeling.gt_box_inference import predict_on_given_boxes
from ..noise.geometry import segmentation_to_mask
from ..utils.errors import UserInputError
from ..utils.files import load_json, save_json_atomic

__all__ = ["check_model", "class_evidence", "coco_metadata", "collect_evidence", "mask_ious"]

logger = logging.getLogger(__name__)

IMAGES_PER_CHUNK = 200  # progress saved this often: what a crash can cost
MASK_THRESHOLD = 0.5  # a predicted mask pixel is foreground above this probability (detectron2's paste default)


def class_evidence(class_probs: torch.Tensor, given: torch.Tensor):
    """(given_prob, best_other, best_other_prob), each (N,), from (N, K + 1) probabilities (background last)
    and the (N,) given classes: best_other is the most probable foreground class other than the given one."""
    rows = torch.arange(len(given), device=class_probs.device)
    given_prob = class_probs[rows, given]
    foreground = class_probs[:, :-1].clone()
    foreground[rows, given] = -1.0  # below every probability: never the "other" class
    best_other_prob, best_other = foreground.max(dim=1)
    return given_prob, best_other, best_other_prob.clamp(min=0.0)  # one class: no other, probability 0


def mask_ious(mask_probs: torch.Tensor, gt_masks: torch.Tensor) -> torch.Tensor:
    """(N,) IoU of the binarized predicted masks (N, H, W probabilities) with the (N, H, W) bool annotated masks;
    0 where both are empty."""
    predicted = mask_probs > MASK_THRESHOLD
    intersection = (predicted & gt_masks).flatten(1).sum(dim=1)
    union = (predicted | gt_masks).flatten(1).sum(dim=1)
    return intersection / union.clamp(min=1)


def coco_metadata(dataset_name: str) -> tuple[str, dict]:
    """(json file, {dataset category id: contiguous id}) of a registered COCO-format dataset (load it first)."""
    metadata = MetadataCatalog.get(dataset_name)
    json_file, id_map = metadata.get("json_file"), metadata.get("thing_dataset_id_to_contiguous_id")
    if json_file is None or id_map is None:
        raise UserInputError(
            f"{dataset_name!r} is not a COCO-format dataset: its metadata needs json_file and "
            "thing_dataset_id_to_contiguous_id"
        )
    return json_file, {int(k): int(v) for k, v in id_map.items()}


def check_model(model, num_classes: int, needs_masks: bool, mask_option: str = "mask_iou_threshold") -> None:
    """The model predicts the dataset's `num_classes` classes and, if `needs_masks` (for `mask_option`), masks."""
    roi_heads = getattr(model, "roi_heads", None)
    model_classes = getattr(roi_heads, "num_classes", None)
    if model_classes != num_classes:
        raise UserInputError(f"the model predicts {model_classes} classes but the dataset has {num_classes}")
    if needs_masks and not getattr(roi_heads, "mask_on", False):
        raise UserInputError(f"{mask_option} needs a model with a mask head")


def _load_chunks(progress_dir: Optional[Path]) -> list[dict]:
    return [load_json(path) for path in sorted(progress_dir.glob("chunk-*.json"))] if progress_dir else []


def collect_evidence(
    model,
    records,
    dataset,
    id_map,
    progress_dir: Optional[Path],
    *,
    augmentations,
    image_format,
    with_masks: bool,
    progress: bool,
    detect_score: Optional[float] = None,
    keep_masks: bool = False,
    desc: str = "label correction",
):
    """The model's evidence on the annotations of `records` (the registered dataset's records, or some of them),
    image by image: (rows, skipped, detections), continuing from the chunks in `progress_dir` (None: no chunks).

    rows: one per usable annotation, {"index" (its position in `dataset`["annotations"], the raw json), "id",
        "image_id", "given" (contiguous class), "best_other", "given_prob", "best_other_prob", "background_prob",
        "mask_iou" (None without `with_masks` or without a mask), "class_probs" (the K + 1 probabilities on its box,
        background last)} and, with `keep_masks`, "predicted_mask" (the binarized mask of the given class, COCO RLE).
    skipped: crowd, unusable box, unknown category, image not among `records`.
    detections: with `detect_score`, per image the model's own detections (test-time inference) scored at least
        that: {"image_id", "boxes" (XYWH at the record's size), "scores", "classes" (contiguous)} and, with
        `keep_masks`, "masks" (RLE); empty otherwise.
    `augmentations` / `image_format`: the test mapper's (`input_settings_from_config`).
    """
    chunks = _load_chunks(progress_dir)
    done = {image_id for chunk in chunks for image_id in chunk["image_ids"]}
    by_image = _annotation_indices_by_image(dataset["annotations"])
    record_ids = {record["image_id"] for record in records}
    pending = {"image_ids": [], "rows": [], "skipped": [], "detections": []}
    augmentations = T.AugmentationList(list(augmentations))
    todo = [record for record in records if record["image_id"] not in done]
    for record in tqdm(todo, desc=desc, disable=not progress, initial=len(records) - len(todo), total=len(records)):
        rows, skipped, detections = _image_evidence(
            model,
            record,
            by_image.get(record["image_id"], []),
            dataset["annotations"],
            id_map,
            augmentations,
            image_format,
            with_masks,
            detect_score=detect_score,
            keep_masks=keep_masks,
        )
        pending["image_ids"].append(record["image_id"])
        pending["rows"] += rows
        pending["skipped"] += skipped
        pending["detections"] += [detections] if detections is not None else []
        if len(pending["image_ids"]) >= IMAGES_PER_CHUNK:
            chunks.append(_save_chunk(progress_dir, len(chunks), pending))
            pending = {"image_ids": [], "rows": [], "skipped": [], "detections": []}
    if pending["image_ids"]:
        chunks.append(_save_chunk(progress_dir, len(chunks), pending))
    rows = sorted((row for chunk in chunks for row in chunk["rows"]), key=lambda row: row["index"])
    skipped = [s for chunk in chunks for s in chunk["skipped"]]
    skipped += [
        _skip(index, dataset["annotations"][index], "image not in dataset")
        for image_id, indices in by_image.items()
        if image_id not in record_ids
        for index in indices
    ]
    detections = [d for chunk in chunks for d in chunk.get("detections", [])]
    return rows, sorted(skipped, key=lambda s: s["index"]), detections


def _save_chunk(progress_dir: Optional[Path], number: int, chunk: dict) -> dict:
    if progress_dir is not None:
        save_json_atomic(chunk, progress_dir / f"chunk-{number:06d}.json")
    return chunk


def _annotation_indices_by_image(annotations) -> dict:
    by_image = {}
    for index, ann in enumerate(annotations):
        by_image.setdefault(ann.get("image_id"), []).append(index)
    return by_image


def _skip(index: int, ann: dict, reason: str) -> dict:
    return {"index": index, "id": ann.get("id"), "image_id": ann.get("image_id"), "reason": reason}


def _skip_reason(ann: dict, id_map: dict) -> Optional[str]:
    if ann.get("iscrowd", 0):
        return "crowd"
    if ann.get("category_id") not in id_map:
        return "unknown category"
    box = ann.get("bbox")
    if not (
        isinstance(box, (list, tuple))
        and len(box) == 4
        and np.isfinite(np.asarray(box, float)).all()
        and box[2] > 0
        and box[3] > 0
    ):
        return "no usable box"
    return None


def _image_evidence(
    model,
    record,
    indices,
    annotations,
    id_map,
    augmentations,
    image_format,
    with_masks,
    detect_score=None,
    keep_masks=False,
):
    """Rows for one image's usable annotations (one model call on their boxes), its skipped ones, and with
    `detect_score` its confident detections (one more call: the model's own inference)."""
    reasons = {index: _skip_reason(annotations[index], id_map) for index in indices}
    skipped = [_skip(index, annotations[index], reason) for index, reason in reasons.items() if reason]
    usable = [index for index, reason in reasons.items() if reason is None]
    if not usable and detect_score is None:
        return [], skipped, None
    boxes = np.asarray([annotations[i]["bbox"] for i in usable], dtype=np.float32).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]  # XYWH -> XYXY
    network_input, input_boxes = _network_input(record, boxes, augmentations, image_format)
    rows = []
    if usable:
        rows = _annotation_rows(
            model,
            record,
            [annotations[i] for i in usable],
            usable,
            id_map,
            network_input,
            input_boxes,
            with_masks,
            keep_masks,
        )
    detections = None
    if detect_score is not None:
        detections = _confident_detections(model, network_input, record["image_id"], detect_score, keep_masks)
    return rows, skipped, detections


def _annotation_rows(model, record, anns, usable, id_map, network_input, input_boxes, with_masks, keep_masks):
    given = torch.as_tensor([id_map[ann["category_id"]] for ann in anns])
    output = predict_on_given_boxes(model, [network_input], [input_boxes], classes=[given], predict_masks=with_masks)[0]
    class_probs = output["class_probs"].cpu()
    given_prob, best_other, best_other_prob = class_evidence(class_probs, given)
    iou = [None] * len(usable)
    if with_masks:
        iou = _mask_iou_or_none(anns, output["mask_probs"], network_input)
    rows = [
        {
            "index": index,
            "id": ann.get("id"),
            "image_id": record["image_id"],
            "given": int(g),
            "best_other": int(k),
            "given_prob": float(pg),
            "best_other_prob": float(pk),
            "background_prob": float(pb),
            "mask_iou": m,
            "class_probs": probs,
        }
        for index, ann, g, k, pg, pk, pb, m, probs in zip(
            usable,
            anns,
            given.tolist(),
            best_other.tolist(),
            given_prob.tolist(),
            best_other_prob.tolist(),
            class_probs[:, -1].tolist(),
            iou,
            class_probs.tolist(),
        )
    ]
    if keep_masks and with_masks:
        for row, mask in zip(rows, (output["mask_probs"] > MASK_THRESHOLD).cpu().numpy()):
            row["predicted_mask"] = _encode_mask(mask)
    return rows


def _confident_detections(model, network_input: dict, image_id, min_score: float, keep_masks: bool) -> dict:
    """The model's test-time detections on one image scored at least `min_score`, at the record's size."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            instances = model([network_input])[0]["instances"].to("cpu")
    finally:
        model.train(was_training)
    instances = instances[instances.scores >= min_score]
    boxes = instances.pred_boxes.tensor.numpy().astype(np.float64)
    boxes[:, 2:] -= boxes[:, :2]  # XYXY -> XYWH
    detections = {
        "image_id": image_id,
        "boxes": boxes.tolist(),
        "scores": instances.scores.tolist(),
        "classes": instances.pred_classes.tolist(),
    }
    if keep_masks and instances.has("pred_masks"):
        detections["masks"] = [_encode_mask(mask) for mask in instances.pred_masks.numpy()]
    return detections


def _encode_mask(mask: np.ndarray) -> dict:
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def _network_input(record, boxes_xyxy: np.ndarray, augmentations: T.AugmentationList, image_format: str):
    """The model input of `record` after the test-time augmentations, and the boxes under the same transform."""
    image = utils.read_image(record["file_name"], format=image_format)
    utils.check_image_size(record, image)
    aug_input = T.AugInput(image, boxes=boxes_xyxy)
    augmentations(aug_input)
    tensor = torch.as_tensor(np.ascontiguousarray(aug_input.image.transpose(2, 0, 1)))
    network_input = {"image": tensor, "height": record["height"], "width": record["width"]}
    return network_input, torch.as_tensor(aug_input.boxes, dtype=torch.float32)


def _mask_iou_or_none(annotations, mask_probs: torch.Tensor, network_input: dict) -> list:
    """Per annotation the IoU of its predicted and annotated masks (one vectorized call per image); None where
    the annotation has no usable mask."""
    height, width = network_input["height"], network_input["width"]
    gt = [segmentation_to_mask(ann.get("segmentation"), height, width) for ann in annotations]
    has_mask = [m is not None and m.any() for m in gt]
    empty = np.zeros((height, width), bool)
    gt_masks = torch.from_numpy(np.stack([m if ok else empty for m, ok in zip(gt, has_mask)]))
    ious = mask_ious(mask_probs, gt_masks.to(mask_probs.device)).tolist()
    return [iou if ok else None for iou, ok in zip(ious, has_mask)]
