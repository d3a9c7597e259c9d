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
- progress/ while running: the model's evidence in columnar shards (evidence_shards.py), which `resume=True`
  continues from (a shard of another model, json or settings is refused);
- run.json: the settings, and (written last) that the run finished (noisy_seg/utils/run_folder.py).
Crowd annotations, annotations without a usable box or with an unknown category are skipped and listed.

The model's evidence (per annotation the class probabilities on its box and the mask IoU) is evidence.py's
`collect_evidence`, which label-issue finding (label_issues.py) reads too; this module decides and writes.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

import detectron2.data.transforms as T
from detectron2.config import CfgNode, get_cfg, instantiate
from detectron2.data import DatasetCatalog
from detectron2.data import detection_utils as utils
from detectron2.utils import comm

from ..label_errors.correction import (
    DEFAULT_RELABEL_THRESHOLD,
    count_label_changes,
    decide_corrections,
    threshold_sweep,
)
from ..utils.columns import fingerprint
from ..utils.errors import UserInputError
from ..utils.files import load_json, save_json_streamed
from ..utils.run_folder import FINISHED, RunFolder
from ..inference.loop import first_process
from ..inference.model import check_fits, check_mask_head, predicted_classes
from .evidence import coco_metadata, collect_evidence

__all__ = [
    "CORRECTED_JSON",
    "CORRECTIONS_JSON",
    "correct_instance_labels",
    "corrected_annotation",
    "input_settings_from_config",
]

logger = logging.getLogger(__name__)

CORRECTED_JSON = "corrected.json"
CORRECTIONS_JSON = "corrections.json"
PROGRESS_DIR = "progress"


# ------------------------------------------------------------------------------------------------ public entry
def correct_instance_labels(
    model,
    dataset_name: str,
    output_dir,
    *,
    relabel_threshold: Optional[float] = DEFAULT_RELABEL_THRESHOLD,
    mask_iou_threshold: Optional[float] = None,
    resume: bool = False,
    augmentations: Optional[Sequence[T.Augmentation]] = None,
    image_format: Optional[str] = None,
    batch_size: int = 1,
    num_workers: int = 0,
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
    batch_size, num_workers: images per forward pass and loading processes (detectron2's test loader).
    Under detectron2's `launch` each process scores its share of the images; the first opens the folder and writes.
    """
    _check_thresholds(relabel_threshold, mask_iou_threshold)
    records = DatasetCatalog.get(dataset_name)  # first: loading a COCO json fills in the metadata's id map
    json_file, id_map = coco_metadata(dataset_name)
    output_dir = Path(output_dir)
    if Path(json_file).resolve().parent == output_dir.resolve():
        raise UserInputError(f"the output folder {output_dir} holds the input json {json_file}; pick another one")
    dataset = load_json(json_file)
    check_fits(predicted_classes(model), len(id_map), dataset_name)
    if mask_iou_threshold is not None:
        check_mask_head(model.roi_heads.mask_on, "mask_iou_threshold")
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
    main = comm.is_main_process()  # under launch, the first process opens the folder and writes; all score
    folder = first_process(
        lambda: RunFolder.open(
            output_dir,
            settings,
            resume=resume,
            owned={CORRECTED_JSON, CORRECTIONS_JSON, PROGRESS_DIR},
            flag="output",
            how_to_resume="resume=True",
        )
    )
    if folder.state == FINISHED:
        if main:
            shutil.rmtree(output_dir / PROGRESS_DIR, ignore_errors=True)  # a crash right after the last write
            logger.info("%s already holds this correction; nothing to do", output_dir)
        return load_json(output_dir / CORRECTIONS_JSON)["summary"]

    evidence = collect_evidence(
        model,
        records,
        dataset,
        id_map,
        output_dir / PROGRESS_DIR,
        fingerprint=fingerprint(settings),  # the model, the json, the options
        augmentations=augmentations,
        image_format=image_format,
        with_masks=mask_iou_threshold is not None,
        progress=progress,
        batch_size=batch_size,
        num_workers=num_workers,
    )
    if not main:
        comm.synchronize()  # the first process writes the outputs
        return load_json(output_dir / CORRECTIONS_JSON)["summary"]
    decisions = _decide(evidence, id_map, relabel_threshold, mask_iou_threshold)
    summary = _summary(len(records), dataset, evidence, decisions)
    corrected = {**dataset, "annotations": _corrected_annotations(dataset, evidence, decisions)}
    save_json_streamed(corrected, output_dir / CORRECTED_JSON)
    save_json_streamed(
        {
            "settings": settings,
            "summary": summary,
            "annotations": (_report_row(evidence, decisions, i) for i in range(evidence.num_rows)),
            "skipped": evidence.skipped_entries(),
        },
        output_dir / CORRECTIONS_JSON,
    )
    folder.finish()
    shutil.rmtree(output_dir / PROGRESS_DIR)
    logger.info("Label correction of %s: %s", dataset_name, summary)
    comm.synchronize()
    return summary


def input_settings_from_config(cfg) -> dict:
    """{"augmentations", "image_format"} of the test mapper of a LazyConfig (`dataloader.test.mapper`) or of a
    yacs config (INPUT.MIN_SIZE_TEST / MAX_SIZE_TEST / FORMAT), for `correct_instance_labels(..., **these)`."""
    if isinstance(cfg, CfgNode):
        return {"augmentations": utils.build_augmentation(cfg, is_train=False), "image_format": cfg.INPUT.FORMAT}
    mapper = cfg.dataloader.test.mapper
    return {"augmentations": list(instantiate(mapper.augmentations)), "image_format": mapper.image_format}


# ------------------------------------------------------------------------------------------ input checks
def _check_thresholds(relabel_threshold, mask_iou_threshold) -> None:
    for name, value in (("relabel_threshold", relabel_threshold), ("mask_iou_threshold", mask_iou_threshold)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1):
            raise UserInputError(f"{name} must be a number in (0, 1] or None, got {value!r}")


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


# ------------------------------------------------------------------------------------- decisions and outputs
def _decide(evidence, id_map, relabel_threshold, mask_iou_threshold) -> dict:
    """Per evidence row: relabel, flag, and the given / suggested category ids (the dataset's)."""
    relabel, flag = decide_corrections(
        evidence.rows["best_other_prob"], evidence.rows["mask_iou"], relabel_threshold, mask_iou_threshold
    )
    to_dataset = np.zeros(max(id_map.values()) + 1, np.int64)
    to_dataset[list(id_map.values())] = list(id_map.keys())
    return {
        "relabel": relabel,
        "flag": flag,
        "given": to_dataset[np.asarray(evidence.rows["given"])],
        "suggested": to_dataset[np.asarray(evidence.rows["best_other"])],
    }


def _report_row(evidence, decisions: dict, i: int) -> dict:
    row = evidence.row(i)
    return {
        "index": row["index"],
        "id": row["id"],
        "image_id": row["image_id"],  # index: in the json's list
        "given_category_id": int(decisions["given"][i]),
        "suggested_category_id": int(decisions["suggested"][i]),  # the best other class, applied on "class"
        "given_prob": row["given_prob"],
        "suggested_prob": row["best_other_prob"],
        "background_prob": row["background_prob"],
        "mask_iou": row["mask_iou"],
        "reasons": ["class"] * bool(decisions["relabel"][i]) + ["mask"] * bool(decisions["flag"][i]),
    }


def _corrected_annotations(dataset, evidence, decisions: dict):
    """The json's annotations, each relabelled or flagged one corrected (a generator: streamed into the file)."""
    changed = np.flatnonzero(decisions["relabel"] | decisions["flag"])
    row_of = dict(zip(np.asarray(evidence.rows["index"])[changed].tolist(), changed.tolist()))
    for index, ann in enumerate(dataset["annotations"]):
        yield corrected_annotation(ann, _report_row(evidence, decisions, row_of[index])) if index in row_of else ann


def corrected_annotation(ann: dict, row: dict) -> dict:
    """`ann` with a `correction` entry from `row` ({"reasons", "given_prob", "suggested_prob", "mask_iou"}) and, when
    `row["relabel"]` (default: a "class" reason, as label correction decides), the suggested category
    (`original_category_id` keeps the given one)."""
    ann = dict(ann)  # the input dataset stays as read
    if row.get("relabel", "class" in row["reasons"]):
        ann["original_category_id"] = ann["category_id"]
        ann["category_id"] = row["suggested_category_id"]
    ann["correction"] = {key: row[key] for key in ("reasons", "given_prob", "suggested_prob", "mask_iou")}
    return ann


def _summary(num_images: int, dataset, evidence, decisions: dict) -> dict:
    summary = {
        "images": num_images,
        "annotations": len(dataset["annotations"]),
        "seen": evidence.num_rows,
        "skipped": len(evidence.skipped["index"]),
        "skipped_by_reason": evidence.skipped_by_reason(),
        "relabelled": int(decisions["relabel"].sum()),
        "flagged": int(decisions["flag"].sum()),
    }
    annotations = dataset["annotations"]
    with_clean = np.asarray([i for i, ann in enumerate(annotations) if "clean_category_id" in ann], np.int64)
    if len(with_clean):  # injected noise (tools/make_noisy_dataset.py): what the correction did to it
        given = np.asarray([annotations[i]["category_id"] for i in with_clean.tolist()])
        clean = np.asarray([annotations[i]["clean_category_id"] for i in with_clean.tolist()])
        row = _row_of(evidence, with_clean)  # -1 picks the appended entry: an annotation not looked at
        suggested = np.where(row >= 0, np.append(decisions["suggested"], 0)[row], given)
        relabelled = np.append(decisions["relabel"], False)[row]
        prob = np.append(np.asarray(evidence.rows["best_other_prob"], np.float64), -np.inf)[row]
        summary["label_noise"] = count_label_changes(given, np.where(relabelled, suggested, given), clean)
        summary["relabel_threshold_sweep"] = threshold_sweep(given, clean, suggested, prob)
    return summary


def _row_of(evidence, indices: np.ndarray) -> np.ndarray:
    """The evidence row of each annotation index (-1: not looked at); the rows are sorted by index."""
    scored = np.asarray(evidence.rows["index"])
    position = np.searchsorted(scored, indices)
    inside = position < len(scored)
    found = np.zeros(len(indices), bool)
    found[inside] = scored[position[inside]] == indices[inside]
    return np.where(found, position, -1)
