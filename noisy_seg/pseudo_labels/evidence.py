"""A trained Mask R-CNN's view of the annotated instances of a COCO-format dataset: per annotation, the box
classifier's class posterior on its annotated box (the GT boxes as proposals) and the IoU of the predicted mask with
the annotated one, and on request the model's own confident detections (`collect_evidence`). Label correction
(instance.py) and label-issue finding (label_issues.py) both read it; what to make of it is decided elsewhere.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pycocotools.mask as mask_util
import torch

from detectron2.data import MetadataCatalog
from detectron2.utils import comm

from ..inference.instance import GIVEN, GivenBoxMapper, given_annotations, predictor
from ..inference.loop import gather, predict_dataset, process_shard
from ..utils.errors import UserInputError
from ..utils.columns import Ragged
from .evidence_shards import SKIP_REASONS, Evidence, load_shards, merge_evidence, save_shard

__all__ = ["Evidence", "class_evidence", "coco_metadata", "collect_evidence", "mask_ious", "merge_evidence"]

logger = logging.getLogger(__name__)

IMAGES_PER_SHARD = 200  # progress saved this often: what a crash can cost
_INDICES = "annotation_indices"  # a record's usable annotations (positions in the json), carried through the mapper
_POSITION = "dataset_position"  # the record's place in the dataset, carried through the mapper
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


def collect_evidence(
    model,
    records,
    dataset,
    id_map,
    shard_dir: Optional[Path],
    *,
    fingerprint: str = "",
    positions: Optional[Sequence[int]] = None,
    augmentations,
    image_format,
    with_masks: bool,
    progress: bool,
    detect_score: Optional[float] = None,
    keep_masks: bool = False,
    desc: str = "label correction",
    batch_size: int = 1,
    num_workers: int = 0,
) -> Evidence:
    """The model's evidence on the annotations of `records` (the registered dataset's records, or some of them, at
    `positions` in it; default 0, 1, ...), an `Evidence` (evidence_shards.py), continuing from the shards in
    `shard_dir` written with the same `fingerprint` (None: no shards). The model must fit the dataset
    (`inference.check_fits`, `check_mask_head`: the caller checks once).

    The images go through detectron2's test loader (`inference.predict_dataset`: `batch_size` images per forward
    pass, `num_workers` loading processes that also decode the annotated masks); per image one backbone pass gives
    the box head's view of the annotated boxes and, with `detect_score`, the model's own detections.
    Under detectron2's `launch` each process scores its share of the images (and writes its own shards) and every
    process returns the whole evidence, the same as one process would, whatever the number of processes that wrote
    the shards it continues from.

    rows: one per usable annotation (mask_iou NaN without `with_masks` or without a mask); with `keep_masks` and
        `with_masks` the binarized predicted mask of the given class (RLE) too.
    skipped: crowd, unusable box, unknown category, image not among `records`.
    detections: with `detect_score`, the model's own detections (test-time inference) scored at least that, boxes
        XYWH at the record's size; with `keep_masks` their masks (RLE).
    `augmentations` / `image_format`: the test mapper's (`input_settings_from_config`).
    """
    num_columns = len(id_map) + 1
    positions = range(len(records)) if positions is None else positions
    _check_integer_ids(records, dataset["annotations"])
    loaded = load_shards(shard_dir, fingerprint) if shard_dir is not None else []
    comm.synchronize()  # every process has read the same shards before any writes a new one
    done = {int(i) for shard in loaded for i in shard.image_ids}
    annotations = dataset["annotations"]
    by_image = _annotation_indices_by_image(annotations)
    record_ids = {record["image_id"] for record in records}
    detected = detect_score is not None
    first_number = len(loaded)  # new shards are numbered after every old one, whichever process wrote them
    pending, new, todo, skipped_of = [], [], [], {}  # an image's skipped annotations enter a shard with the image
    for record, position in zip(records, positions):
        if record["image_id"] in done:
            continue
        indices = by_image.get(record["image_id"], [])
        reasons = {index: _skip_reason(annotations[index], id_map) for index in indices}
        skipped = [(index, reason) for index, reason in reasons.items() if reason]
        usable = [index for index, reason in reasons.items() if reason is None]
        if usable or detected:
            todo.append({**_with_given(record, usable, annotations, id_map, with_masks), _POSITION: position})
            skipped_of[record["image_id"]] = skipped
        elif comm.is_main_process():  # nothing to ask the model (one process records it)
            pending.append(_unscored_image(record["image_id"], position, skipped, annotations, num_columns, detected))
    predictions = predict_dataset(
        model,
        todo,
        GivenBoxMapper(augmentations=augmentations, image_format=image_format, with_masks=with_masks),
        predictor(with_masks=with_masks, detect=detected),
        batch_size=batch_size,
        num_workers=num_workers,
        progress=progress,
        desc=desc,
        total=len(records),
    )
    for inputs, output in predictions:
        skipped = skipped_of.pop(inputs["image_id"])
        pending.append(
            _image_evidence(inputs, output, annotations, skipped, with_masks, keep_masks, detect_score, num_columns)
        )
        if len(pending) >= IMAGES_PER_SHARD:
            new.append(_save(shard_dir, first_number + len(new), merge_evidence(pending), fingerprint))
            pending = []
    if pending:
        new.append(_save(shard_dir, first_number + len(new), merge_evidence(pending), fingerprint))
    if shard_dir is not None:
        comm.synchronize()  # every process's shards are on disk
        parts = load_shards(shard_dir, fingerprint)
        comm.synchronize()  # every process has opened them (the caller may then remove the folder)
    else:
        parts = gather(new)
    missing_images = [
        (index, "image not in dataset")
        for image_id, indices in by_image.items()
        if image_id not in record_ids
        for index in indices
    ]
    parts.append(_unscored_image(None, None, missing_images, annotations, num_columns, detected))
    return merge_evidence(parts)


def _with_given(record: dict, usable: list, annotations, id_map: dict, with_masks: bool) -> dict:
    """The record with what GivenBoxMapper maps beside its image: its usable annotations' boxes, classes, masks."""
    boxes = np.asarray([annotations[i]["bbox"] for i in usable], dtype=np.float32).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]  # XYWH -> XYXY
    classes = [id_map[annotations[i]["category_id"]] for i in usable]
    segmentations = [annotations[i].get("segmentation") for i in usable] if with_masks else None
    given = given_annotations(boxes, classes, segmentations)
    return {**{k: v for k, v in record.items() if k != "annotations"}, GIVEN: given, _INDICES: usable}


def _save(shard_dir: Optional[Path], number: int, evidence: Evidence, fingerprint: str) -> Evidence:
    """Save a shard of finished images (each process its own shards when there are several)."""
    if shard_dir is not None:
        name, meta = process_shard(number, fingerprint)
        save_shard(shard_dir, name, evidence, meta)
    return evidence


def _check_integer_ids(records, annotations) -> None:
    """COCO's image and annotation ids are integers; the evidence keeps them in int64 columns."""
    values = [("image id", r["image_id"]) for r in records]
    values += [(f"annotation {key.replace('_', ' ')}", a.get(key)) for a in annotations for key in ("id", "image_id")]
    bad = next(((kind, value) for kind, value in values if not _is_int(value)), None)
    if bad is not None:
        raise UserInputError(f"COCO {bad[0]}s must be integers, got {bad[1]!r}; renumber the json's ids")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _annotation_indices_by_image(annotations) -> dict:
    by_image = {}
    for index, ann in enumerate(annotations):
        by_image.setdefault(ann.get("image_id"), []).append(index)
    return by_image


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
    inputs: dict, output: dict, annotations, skipped, with_masks: bool, keep_masks: bool, detect_score, num_columns
) -> Evidence:
    """One image's evidence (GivenBoxMapper's inputs, the predictor's output)."""
    usable, given = inputs[_INDICES], inputs["given_classes"]
    evidence = _unscored_image(
        inputs["image_id"], inputs[_POSITION], skipped, annotations, num_columns, detect_score is not None
    )
    class_probs = output["class_probs"].float().cpu()
    if usable:
        given_prob, best_other, best_other_prob = class_evidence(class_probs, given)
        iou = np.full(len(usable), np.nan, np.float32)
        if with_masks:
            ious = mask_ious(output["mask_probs"], inputs["given_masks"].to(output["mask_probs"].device))
            iou = np.where(inputs["has_mask"].numpy(), ious.cpu().numpy(), np.nan).astype(np.float32)
        evidence.rows.update(
            index=np.asarray(usable, np.int64),
            id=np.asarray([annotations[i]["id"] for i in usable], np.int64),
            image_id=np.full(len(usable), inputs["image_id"], np.int64),
            given=given.numpy().astype(np.int32),
            best_other=best_other.numpy().astype(np.int32),
            given_prob=given_prob.numpy(),
            best_other_prob=best_other_prob.numpy(),
            background_prob=class_probs[:, -1].numpy(),
            mask_iou=iou,
            class_probs=class_probs.numpy(),
        )
    if keep_masks and with_masks:
        masks = (output["mask_probs"] > MASK_THRESHOLD).cpu().numpy() if usable else []
        evidence.rows["predicted_mask"], evidence.rows["mask_size"] = _rle_column(masks)
    if detect_score is not None:
        evidence.detections.update(_confident_detections(output["instances"], inputs, detect_score, keep_masks))
    return evidence


def _unscored_image(image_id, position, skipped, annotations, num_columns: int, detected: bool) -> Evidence:
    """An image's evidence without rows (or, image_id None, only skipped annotations)."""
    evidence = Evidence.empty(num_columns, detected)
    if image_id is not None:
        evidence.images.update(image_id=np.asarray([image_id], np.int64), position=np.asarray([position], np.int64))
    indices = [index for index, _ in skipped]
    evidence.skipped.update(
        index=np.asarray(indices, np.int64),
        id=np.asarray([annotations[i].get("id") for i in indices], np.int64),
        image_id=np.asarray([annotations[i].get("image_id") for i in indices], np.int64),
        reason=np.asarray([SKIP_REASONS.index(reason) for _, reason in skipped], np.int8),
    )
    return evidence


def _confident_detections(instances, inputs: dict, min_score: float, keep_masks: bool) -> dict:
    """The model's test-time detections on one image scored at least `min_score`, at the record's size."""
    instances = instances.to("cpu")
    instances = instances[instances.scores >= min_score]
    boxes = instances.pred_boxes.tensor.numpy().astype(np.float32)
    boxes[:, 2:] -= boxes[:, :2]  # XYXY -> XYWH
    count = len(instances)
    detections = {
        "image_id": np.full(count, inputs["image_id"], np.int64),
        "position": np.full(count, inputs[_POSITION], np.int64),
        "box": boxes.reshape(-1, 4),
        "score": instances.scores.numpy().astype(np.float32),
        "class": instances.pred_classes.numpy().astype(np.int32),
    }
    if keep_masks and instances.has("pred_masks"):
        detections["mask"], detections["mask_size"] = _rle_column(instances.pred_masks.numpy())
    return detections


def _rle_column(masks) -> tuple[Ragged, np.ndarray]:
    """Binary masks as a Ragged column of RLE counts and their (N, 2) sizes."""
    rles = [mask_util.encode(np.asfortranarray(np.asarray(mask, np.uint8))) for mask in masks]
    sizes = np.asarray([rle["size"] for rle in rles], np.int32).reshape(-1, 2)
    return Ragged.of([rle["counts"] for rle in rles]), sizes
