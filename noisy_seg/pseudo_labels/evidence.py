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

from detectron2.data import MetadataCatalog
from detectron2.utils import comm

from ..inference.instance import GIVEN, GivenBoxMapper, given_annotations, predictor
from ..inference.loop import gather, predict_dataset
from ..utils.errors import UserInputError
from ..utils.files import load_json, save_json_atomic

__all__ = ["class_evidence", "coco_metadata", "collect_evidence", "mask_ious"]

logger = logging.getLogger(__name__)

IMAGES_PER_CHUNK = 200  # progress saved this often: what a crash can cost
_INDICES = "annotation_indices"  # a record's usable annotations (positions in the json), carried through the mapper
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
    batch_size: int = 1,
    num_workers: int = 0,
):
    """The model's evidence on the annotations of `records` (the registered dataset's records, or some of them):
    (rows, skipped, detections), continuing from the chunks in `progress_dir` (None: no chunks). The model must fit
    the dataset (`inference.check_fits`, `check_mask_head`: the caller checks once).

    The images go through detectron2's test loader (`inference.predict_dataset`: `batch_size` images per forward
    pass, `num_workers` loading processes that also decode the annotated masks); per image one backbone pass gives
    the box head's view of the annotated boxes and, with `detect_score`, the model's own detections.
    Under detectron2's `launch` each process scores its share of the images (its chunks in `progress_dir` carry its
    rank) and every process returns the whole evidence, the same as one process would.

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
    comm.synchronize()  # every process has read the same chunks before any writes a new one
    done = {image_id for chunk in chunks for image_id in chunk["image_ids"]}
    annotations = dataset["annotations"]
    by_image = _annotation_indices_by_image(annotations)
    record_ids = {record["image_id"] for record in records}
    pending = _new_chunk()
    todo, skipped_of = [], {}  # an image's skipped annotations enter a chunk with the image: resumable
    for record in records:
        if record["image_id"] in done:
            continue
        indices = by_image.get(record["image_id"], [])
        reasons = {index: _skip_reason(annotations[index], id_map) for index in indices}
        skipped = [_skip(index, annotations[index], reason) for index, reason in reasons.items() if reason]
        usable = [index for index, reason in reasons.items() if reason is None]
        if usable or detect_score is not None:
            todo.append(_with_given(record, usable, annotations, id_map, with_masks))
            skipped_of[record["image_id"]] = skipped
        elif comm.is_main_process():  # nothing to ask the model (one process records it)
            pending["image_ids"].append(record["image_id"])
            pending["skipped"] += skipped
    predictions = predict_dataset(
        model,
        todo,
        GivenBoxMapper(augmentations=augmentations, image_format=image_format, with_masks=with_masks),
        predictor(with_masks=with_masks, detect=detect_score is not None),
        batch_size=batch_size,
        num_workers=num_workers,
        progress=progress,
        desc=desc,
        total=len(records),
    )
    loaded, chunks = chunks, []  # this process's new chunks, then every process's (its share of the images)
    for inputs, output in predictions:
        pending["image_ids"].append(inputs["image_id"])
        pending["skipped"] += skipped_of.pop(inputs["image_id"])
        pending["rows"] += _annotation_rows(inputs, output, annotations, with_masks, keep_masks)
        if detect_score is not None:
            pending["detections"].append(
                _confident_detections(output["instances"], inputs["image_id"], detect_score, keep_masks)
            )
        if len(pending["image_ids"]) >= IMAGES_PER_CHUNK:
            chunks.append(_save_chunk(progress_dir, len(loaded) + len(chunks), pending))
            pending = _new_chunk()
    if pending["image_ids"]:
        chunks.append(_save_chunk(progress_dir, len(loaded) + len(chunks), pending))
    chunks = loaded + gather(chunks)  # in rank order: the records' order, as one process would have them
    rows = sorted((row for chunk in chunks for row in chunk["rows"]), key=lambda row: row["index"])
    skipped = [s for chunk in chunks for s in chunk["skipped"]]
    skipped += [
        _skip(index, annotations[index], "image not in dataset")
        for image_id, indices in by_image.items()
        if image_id not in record_ids
        for index in indices
    ]
    detections = [d for chunk in chunks for d in chunk.get("detections", [])]
    return rows, sorted(skipped, key=lambda s: s["index"]), detections


def _new_chunk() -> dict:
    return {"image_ids": [], "rows": [], "skipped": [], "detections": []}


def _with_given(record: dict, usable: list, annotations, id_map: dict, with_masks: bool) -> dict:
    """The record with what GivenBoxMapper maps beside its image: its usable annotations' boxes, classes, masks."""
    boxes = np.asarray([annotations[i]["bbox"] for i in usable], dtype=np.float32).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]  # XYWH -> XYXY
    classes = [id_map[annotations[i]["category_id"]] for i in usable]
    segmentations = [annotations[i].get("segmentation") for i in usable] if with_masks else None
    given = given_annotations(boxes, classes, segmentations)
    return {**{k: v for k, v in record.items() if k != "annotations"}, GIVEN: given, _INDICES: usable}


def _save_chunk(progress_dir: Optional[Path], number: int, chunk: dict) -> dict:
    """Save a chunk of finished images (each process its own files when there are several)."""
    if progress_dir is not None:
        rank = f"-r{comm.get_rank()}" if comm.get_world_size() > 1 else ""
        save_json_atomic(chunk, progress_dir / f"chunk-{number:06d}{rank}.json")
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


def _annotation_rows(inputs: dict, output: dict, annotations, with_masks: bool, keep_masks: bool) -> list[dict]:
    """One row per usable annotation of an image (GivenBoxMapper's inputs, the predictor's output)."""
    usable, given = inputs[_INDICES], inputs["given_classes"]
    if not usable:
        return []
    class_probs = output["class_probs"].cpu()
    given_prob, best_other, best_other_prob = class_evidence(class_probs, given)
    iou = [None] * len(usable)
    if with_masks:
        ious = mask_ious(output["mask_probs"], inputs["given_masks"].to(output["mask_probs"].device)).tolist()
        iou = [value if ok else None for value, ok in zip(ious, inputs["has_mask"].tolist())]
    rows = [
        {
            "index": index,
            "id": annotations[index].get("id"),
            "image_id": inputs["image_id"],
            "given": int(g),
            "best_other": int(k),
            "given_prob": float(pg),
            "best_other_prob": float(pk),
            "background_prob": float(pb),
            "mask_iou": m,
            "class_probs": probs,
        }
        for index, g, k, pg, pk, pb, m, probs in zip(
            usable,
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


def _confident_detections(instances, image_id, min_score: float, keep_masks: bool) -> dict:
    """The model's test-time detections on one image scored at least `min_score`, at the record's size."""
    instances = instances.to("cpu")
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
