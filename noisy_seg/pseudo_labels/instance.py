"""Instance label correction with a trained model: stage 1 looks at every annotated box, the annotations it
disagrees with are relabelled (or flagged) in a copy of the COCO json, and stage 2 trains on that copy.

    summary = correct_instance_labels(model, "toy_shapes_train", "output/corrections", relabel_threshold=0.5,
                                      mask_iou_threshold=0.5, **input_settings_from_config(cfg))
    # stage 2 (keep the train mapper's noise None: the json is the data):
    dataloader.train.dataset.names = L(register_coco_file)(json_file="output/corrections/corrected.json",
                                                           like="toy_shapes_train")

Rules for an annotation of given class g whose box gets class probabilities p (K foreground columns, then
background) from `predict_on_given_boxes`:
- "class": relabel to k = the most probable foreground class other than g when p[k] > relabel_threshold (with a
  threshold >= 0.5, k is then the model's top class);
- "mask" (only with mask_iou_threshold): flag, never change, when the predicted mask of g (probability > 0.5)
  has IoU < mask_iou_threshold with the annotated mask.

Files in `output_dir`:
- corrected.json: the dataset's json, each relabelled annotation with the new `category_id` and its
  `original_category_id`, each relabelled or flagged one with `correction` {"reasons", "given_prob",
  "suggested_prob", "mask_iou"}; nothing else changes (`clean_category_id` of injected noise included);
- corrections.json: settings, summary, one row per annotation looked at (its best other class and probabilities,
  whether applied or not) and the skipped ones with why. With
  injected noise (`clean_category_id`, tools/make_noisy_dataset.py) the summary's "label_noise" counts, over every
  annotation carrying it: noisy before, restored, changed but still wrong, broken (clean -> wrong), noisy after;
- progress/ while running: the model's evidence per image in chunks, which `resume=True` continues from;
- run.json: the settings, and (written last) that the run finished (noisy_seg/utils/run_folder.py).
Crowd annotations, annotations without a usable box or with an unknown category are skipped and listed.

The evidence loop (`collect_evidence`: per annotation the class probabilities on its box and the mask IoU, and on
request the model's own confident detections) also feeds label-issue finding (pseudo_labels/label_issues.py).
"""
from __future__ import annotations

import hashlib
import logging
import shutil
from collections import Counter
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pycocotools.mask as mask_util
import torch
from tqdm import tqdm

import detectron2.data.transforms as T
from detectron2.config import CfgNode, get_cfg, instantiate
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data import detection_utils as utils

from ..modeling.gt_box_inference import predict_on_given_boxes
from ..noise.geometry import segmentation_to_mask
from ..utils.errors import UserInputError
from ..utils.files import load_json, save_json_atomic
from ..utils.run_folder import FINISHED, RunFolder

__all__ = [
    "CORRECTED_JSON",
    "CORRECTIONS_JSON",
    "check_model",
    "class_evidence",
    "coco_metadata",
    "collect_evidence",
    "correct_instance_labels",
    "corrected_annotation",
    "count_label_changes",
    "decide_corrections",
    "mask_ious",
    "input_settings_from_config",
]

logger = logging.getLogger(__name__)

CORRECTED_JSON = "corrected.json"
CORRECTIONS_JSON = "corrections.json"
PROGRESS_DIR = "progress"
IMAGES_PER_CHUNK = 200  # progress saved this often: what a crash can cost
MASK_THRESHOLD = 0.5  # a predicted mask pixel is foreground above this probability (detectron2's paste default)


# ------------------------------------------------------------------------------------------------ public entry
def correct_instance_labels(
    model,
    dataset_name: str,
    output_dir,
    *,
    relabel_threshold: Optional[float] = 0.5,
    mask_iou_threshold: Optional[float] = None,
    resume: bool = False,
    augmentations: Optional[Sequence[T.Augmentation]] = None,
    image_format: Optional[str] = None,
    progress: bool = True,
) -> dict:
    """Relabel / flag the annotations of the registered COCO-format `dataset_name` with `model`'s predictions on
    the annotated boxes; writes `output_dir`/corrected.json and corrections.json (see the module doc) and returns
    the summary.

    relabel_threshold: in (0, 1]; None relabels nothing (mask flags only).
    mask_iou_threshold: in (0, 1]; None flags no masks.
    resume: continue (or just return) a run in `output_dir` with the same settings; without it the folder must
        be new or empty.
    augmentations, image_format: the test mapper's (`input_settings_from_config(cfg)`); default detectron2's test resize
        (ResizeShortestEdge 800 / 1333 of its default config) and the model's `input_format`.
    """
    _check_thresholds(relabel_threshold, mask_iou_threshold)
    records = DatasetCatalog.get(dataset_name)  # first: loading a COCO json fills in the metadata's id map
    json_file, id_map = coco_metadata(dataset_name)
    output_dir = Path(output_dir)
    if Path(json_file).resolve().parent == output_dir.resolve():
        raise UserInputError(f"the output folder {output_dir} holds the input json {json_file}; pick another one")
    dataset = load_json(json_file)
    check_model(model, len(id_map), mask_iou_threshold is not None)
    if mask_iou_threshold is not None and not any(a.get("segmentation") for a in dataset["annotations"]):
        raise UserInputError(f"{dataset_name} has no segmentation masks: mask_iou_threshold needs them")
    if augmentations is None:
        augmentations = utils.build_augmentation(get_cfg(), is_train=False)
        logger.info("No test-time augmentations given: using detectron2's default %s", augmentations)
    image_format = image_format or getattr(model, "input_format", None) or "BGR"

    settings = {
        "dataset": dataset_name,
        "json_file": str(json_file),
        "json_sha1": _file_sha1(json_file),
        "model_sha1": _model_sha1(model),
        "relabel_threshold": relabel_threshold,
        "mask_iou_threshold": mask_iou_threshold,
        "augmentations": [repr(a) for a in augmentations],
        "image_format": image_format,
    }
    folder = RunFolder.open(output_dir, settings, resume=resume, owned={CORRECTED_JSON, CORRECTIONS_JSON, PROGRESS_DIR},
                            flag="output", how_to_resume="resume=True")
    if folder.state == FINISHED:
        shutil.rmtree(output_dir / PROGRESS_DIR, ignore_errors=True)  # a crash right after the last write
        logger.info("%s already holds this correction; nothing to do", output_dir)
        return load_json(output_dir / CORRECTIONS_JSON)["summary"]

    rows, skipped, _ = collect_evidence(
        model, records, dataset, id_map, output_dir / PROGRESS_DIR, augmentations=augmentations,
        image_format=image_format, with_masks=mask_iou_threshold is not None, progress=progress,
    )
    corrected, rows = _apply_corrections(dataset, rows, id_map, relabel_threshold, mask_iou_threshold)
    summary = _summary(len(records), dataset, corrected, rows, skipped)
    save_json_atomic(corrected, output_dir / CORRECTED_JSON)
    save_json_atomic({"settings": settings, "summary": summary, "annotations": rows, "skipped": skipped},
                     output_dir / CORRECTIONS_JSON)
    folder.finish()
    shutil.rmtree(output_dir / PROGRESS_DIR)
    logger.info("Label correction of %s: %s", dataset_name, summary)
    return summary


def input_settings_from_config(cfg) -> dict:
    """{"augmentations", "image_format"} of the test mapper of a LazyConfig (`dataloader.test.mapper`) or of a
    yacs config (INPUT.MIN_SIZE_TEST / MAX_SIZE_TEST / FORMAT), for `correct_instance_labels(..., **these)`."""
    if isinstance(cfg, CfgNode):
        return {"augmentations": utils.build_augmentation(cfg, is_train=False), "image_format": cfg.INPUT.FORMAT}
    mapper = cfg.dataloader.test.mapper
    return {"augmentations": list(instantiate(mapper.augmentations)), "image_format": mapper.image_format}


# ------------------------------------------------------------------------------ the rules, on plain tensors
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


def decide_corrections(best_other_prob: np.ndarray, mask_iou: np.ndarray, relabel_threshold: Optional[float],
                       mask_iou_threshold: Optional[float]):
    """(relabel, flag) bool arrays: relabel where the best other class is more probable than the threshold; flag
    where the mask IoU (NaN: no mask to compare) is below its threshold. A None threshold decides nothing."""
    best_other_prob, mask_iou = np.asarray(best_other_prob, float), np.asarray(mask_iou, float)
    relabel = best_other_prob > (np.inf if relabel_threshold is None else relabel_threshold)
    flag = mask_iou < (-np.inf if mask_iou_threshold is None else mask_iou_threshold)  # NaN compares False
    return relabel, flag


def count_label_changes(original: np.ndarray, corrected: np.ndarray, clean: np.ndarray) -> dict:
    """What a correction did to injected label noise (arrays of category ids, one entry per annotation)."""
    original, corrected, clean = (np.asarray(a) for a in (original, corrected, clean))
    noisy, changed = original != clean, corrected != original
    return {
        "annotations": int(len(original)),
        "noisy_before": int(noisy.sum()),
        "restored": int((noisy & changed & (corrected == clean)).sum()),
        "changed_still_wrong": int((noisy & changed & (corrected != clean)).sum()),
        "broken": int((~noisy & changed).sum()),
        "noisy_after": int((corrected != clean).sum()),
    }


# ------------------------------------------------------------------------------------------ input checks
def _check_thresholds(relabel_threshold, mask_iou_threshold) -> None:
    for name, value in (("relabel_threshold", relabel_threshold), ("mask_iou_threshold", mask_iou_threshold)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not 0 < value <= 1):
            raise UserInputError(f"{name} must be a number in (0, 1] or None, got {value!r}")


def coco_metadata(dataset_name: str) -> tuple[str, dict]:
    """(json file, {dataset category id: contiguous id}) of a registered COCO-format dataset (load it first)."""
    metadata = MetadataCatalog.get(dataset_name)
    json_file, id_map = metadata.get("json_file"), metadata.get("thing_dataset_id_to_contiguous_id")
    if json_file is None or id_map is None:
        raise UserInputError(f"{dataset_name!r} is not a COCO-format dataset: its metadata needs json_file and "
                             "thing_dataset_id_to_contiguous_id")
    return json_file, {int(k): int(v) for k, v in id_map.items()}


def check_model(model, num_classes: int, needs_masks: bool, mask_option: str = "mask_iou_threshold") -> None:
    """The model predicts the dataset's `num_classes` classes and, if `needs_masks` (for `mask_option`), masks."""
    roi_heads = getattr(model, "roi_heads", None)
    model_classes = getattr(roi_heads, "num_classes", None)
    if model_classes != num_classes:
        raise UserInputError(f"the model predicts {model_classes} classes but the dataset has {num_classes}")
    if needs_masks and not getattr(roi_heads, "mask_on", False):
        raise UserInputError(f"{mask_option} needs a model with a mask head")


def _file_sha1(path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha1").hexdigest()


def _model_sha1(model) -> str:
    """The weights' identity, so that a resumed run cannot mix the evidence of two models."""
    digest = hashlib.sha1()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        if value.numel():
            digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _load_chunks(progress_dir: Optional[Path]) -> list[dict]:
    return [load_json(path) for path in sorted(progress_dir.glob("chunk-*.json"))] if progress_dir else []


# --------------------------------------------------------------------------------------- the model's evidence
def collect_evidence(model, records, dataset, id_map, progress_dir: Optional[Path], *, augmentations, image_format,
                     with_masks: bool, progress: bool, detect_score: Optional[float] = None, keep_masks: bool = False,
                     desc: str = "label correction"):
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
    for record in tqdm(todo, desc=desc, disable=not progress, initial=len(records) - len(todo),
                       total=len(records)):
        rows, skipped, detections = _image_evidence(
            model, record, by_image.get(record["image_id"], []), dataset["annotations"], id_map, augmentations,
            image_format, with_masks, detect_score=detect_score, keep_masks=keep_masks)
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
    skipped += [_skip(index, dataset["annotations"][index], "image not in dataset")
                for image_id, indices in by_image.items() if image_id not in record_ids for index in indices]
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
    if not (isinstance(box, (list, tuple)) and len(box) == 4 and np.isfinite(np.asarray(box, float)).all()
            and box[2] > 0 and box[3] > 0):
        return "no usable box"
    return None


def _image_evidence(model, record, indices, annotations, id_map, augmentations, image_format, with_masks,
                    detect_score=None, keep_masks=False):
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
        rows = _annotation_rows(model, record, [annotations[i] for i in usable], usable, id_map, network_input,
                                input_boxes, with_masks, keep_masks)
    detections = None
    if detect_score is not None:
        detections = _confident_detections(model, network_input, record["image_id"], detect_score, keep_masks)
    return rows, skipped, detections


def _annotation_rows(model, record, anns, usable, id_map, network_input, input_boxes, with_masks, keep_masks):
    given = torch.as_tensor([id_map[ann["category_id"]] for ann in anns])
    output = predict_on_given_boxes(model, [network_input], [input_boxes], classes=[given],
                                    predict_masks=with_masks)[0]
    class_probs = output["class_probs"].cpu()
    given_prob, best_other, best_other_prob = class_evidence(class_probs, given)
    iou = [None] * len(usable)
    if with_masks:
        iou = _mask_iou_or_none(anns, output["mask_probs"], network_input)
    rows = [
        {"index": index, "id": ann.get("id"), "image_id": record["image_id"], "given": int(g),
         "best_other": int(k), "given_prob": float(pg), "best_other_prob": float(pk),
         "background_prob": float(pb), "mask_iou": m, "class_probs": probs}
        for index, ann, g, k, pg, pk, pb, m, probs in zip(
            usable, anns, given.tolist(), best_other.tolist(), given_prob.tolist(), best_other_prob.tolist(),
            class_probs[:, -1].tolist(), iou, class_probs.tolist())
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
    detections = {"image_id": image_id, "boxes": boxes.tolist(), "scores": instances.scores.tolist(),
                  "classes": instances.pred_classes.tolist()}
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


# ------------------------------------------------------------------------------------- decisions and outputs
def _apply_corrections(dataset, rows, id_map, relabel_threshold, mask_iou_threshold):
    """(corrected dataset, the rows of corrections.json)."""
    to_dataset_id = {contiguous: dataset_id for dataset_id, contiguous in id_map.items()}
    relabel, flag = decide_corrections(
        np.asarray([row["best_other_prob"] for row in rows], float),
        np.asarray([np.nan if row["mask_iou"] is None else row["mask_iou"] for row in rows], float),
        relabel_threshold, mask_iou_threshold,
    )
    annotations = list(dataset["annotations"])
    report = []
    for row, relabelled, flagged in zip(rows, relabel.tolist(), flag.tolist()):
        reasons = ["class"] * relabelled + ["mask"] * flagged
        report.append({
            "index": row["index"], "id": row["id"], "image_id": row["image_id"],  # index: in the json's list
            "given_category_id": to_dataset_id[row["given"]],
            "suggested_category_id": to_dataset_id[row["best_other"]],  # the best other class, applied on "class"
            "given_prob": row["given_prob"], "suggested_prob": row["best_other_prob"],
            "background_prob": row["background_prob"], "mask_iou": row["mask_iou"], "reasons": reasons,
        })
        if reasons:
            annotations[row["index"]] = corrected_annotation(annotations[row["index"]], report[-1])
    return {**dataset, "annotations": annotations}, report


def corrected_annotation(ann: dict, row: dict) -> dict:
    ann = dict(ann)  # the input dataset stays as read
    if "class" in row["reasons"]:
        ann["original_category_id"] = ann["category_id"]
        ann["category_id"] = row["suggested_category_id"]
    ann["correction"] = {key: row[key] for key in ("reasons", "given_prob", "suggested_prob", "mask_iou")}
    return ann


def _summary(num_images: int, dataset, corrected, rows, skipped) -> dict:
    summary = {
        "images": num_images,
        "annotations": len(dataset["annotations"]),
        "seen": len(rows),
        "skipped": len(skipped),
        "skipped_by_reason": dict(Counter(s["reason"] for s in skipped)),
        "relabelled": sum("class" in row["reasons"] for row in rows),
        "flagged": sum("mask" in row["reasons"] for row in rows),
    }
    with_clean = [i for i, ann in enumerate(dataset["annotations"]) if "clean_category_id" in ann]
    if with_clean:  # injected noise (tools/make_noisy_dataset.py): what the correction did to it
        before, after = dataset["annotations"], corrected["annotations"]
        summary["label_noise"] = count_label_changes([before[i]["category_id"] for i in with_clean],
                                                     [after[i]["category_id"] for i in with_clean],
                                                     [before[i]["clean_category_id"] for i in with_clean])
        summary["relabel_threshold_sweep"] = threshold_sweep(dataset, rows)
    return summary


SWEEP_THRESHOLDS = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def threshold_sweep(dataset, rows, thresholds=SWEEP_THRESHOLDS) -> dict:
    """{threshold: count_label_changes} had the class rule used that relabel threshold, over the same annotations as
    "label_noise" (those not looked at stay as given): which threshold would have restored more flipped labels than
    it broke, from the same evidence (no second pass over the model)."""
    annotations = dataset["annotations"]
    with_clean = [i for i, ann in enumerate(annotations) if "clean_category_id" in ann]
    seen = {row["index"]: row for row in rows}
    given = np.asarray([annotations[i]["category_id"] for i in with_clean])
    clean = np.asarray([annotations[i]["clean_category_id"] for i in with_clean])
    suggested = np.asarray([seen[i]["suggested_category_id"] if i in seen else annotations[i]["category_id"]
                            for i in with_clean])
    best_other_prob = np.asarray([seen[i]["suggested_prob"] if i in seen else -np.inf for i in with_clean], float)
    return {str(t): count_label_changes(given, np.where(best_other_prob > t, suggested, given), clean)
            for t in thresholds}
