"""Label issues of a registered COCO-format instance-segmentation dataset from trained models: the detectron2 side
of noisy_seg.label_errors (which works on plain arrays), used by tools/find_label_errors.py.

    data = load_instance_dataset("toy_shapes_train", needs_masks=True)
    evidence = collect_instance_evidence(model, data, detect_score=0.5, **mapper_settings(cfg))
    report = label_issue_report(data, evidence, method="confident_learning")
    write_label_issues("output/label_issues", data, evidence, report, top=20, settings={...})

Evidence: for every usable annotation the box head's class posterior on the annotated box and the IoU of the
predicted mask with the annotated one (noisy_seg.pseudo_labels.evidence.collect_evidence, which label correction
reads too), and the model's own detections scored at least `detect_score` (candidates for missing objects).
Several models each scoring its held-out images (K-fold) give several evidences: `merge_evidence`.

Files in the output folder (`write_label_issues`; each written atomically, and run.json, noisy_seg/utils/run_folder.py,
marked finished last):
- issues.json: {"settings", "summary", "issues"}: one row per annotation with an issue, every reason in it ("class",
  "mask"), and one per missing object, ranked by one combined score (label_errors.combine: each type ranked on its
  own scale, class issues by the per-class calibrated self-confidence, the types interleaved by rank within type);
  each row has its rank within each of its types, the given and suggested category ids, whether the correction
  policy relabels it, and the evidence behind it ("row": its position in scores.json, "annotation_index" in the
  json's annotation list), see `label_issue_report`. The summary holds the counts per type and per class, the
  dataset's class noise estimated by confident learning (noise rate, transition matrix; the true one beside it
  when the noise was injected) and the corrections (with injected noise: restored / broken);
- scores.json: every scored annotation with all its scores (self-confidence, normalized margin, GMM clean
  probability, calibrated self-confidence, mask IoU, flagged by confident learning), for benchmarks;
- corrected.json: the dataset's json with the correction policy applied (label_errors.correction: a class issue
  whose suggested class is more probable than `relabel_threshold` takes it, `original_category_id` keeps the
  given one; label correction's rule and threshold) and a `correction` entry on every annotation with a class or
  mask issue, as label correction writes it: stage-2 training reads it with `register_coco_file`. Missing objects
  are listed, not added. Left out when the tool's quality gate fails (unless asked for);
- weighted.json: the dataset's json unchanged except that every scored annotation gets "loss_weight", its GMM
  clean probability (4 decimals): training with MODEL.ROI_BOX_HEAD.ANNOTATION_LOSS_WEIGHTS (LazyConfig
  `box_predictor.annotation_loss_weights=True`) weights each RoI's classification loss by it;
- noise_matrix.png: the estimated transition matrix P(given class | true class) as a heat map (and the injected
  one beside it);
- review/: the review page (review_page.py): open review/index.html in a browser, sort and filter the issues,
  accept or reject each, export the json with only the accepted fixes;
- top/<type>/: PNGs of the first `top` issues of each type by their rank within it (detectron2's Visualizer),
  titled with the type, the rank and the row's reasons: the given label and mask beside the suggested label (or
  the relabel the policy applies) and the predicted mask with its IoU; for a missing object, the image's
  annotations beside the detection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np
from tqdm import tqdm

import detectron2.data.transforms as T
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data import detection_utils as utils
from detectron2.utils.visualizer import Visualizer

from ..label_errors import filter as label_filter
from ..label_errors.combine import REASON_BITS, combine_issues, reasons_of
from ..label_errors.correction import (
    DEFAULT_RELABEL_THRESHOLD,
    count_label_changes,
    decide_corrections,
    threshold_sweep,
)
from ..label_errors.filter import ISSUE_TYPES
from ..label_errors.noise_estimate import (
    draw_transition_matrices,
    estimate_label_noise,
    injected_transition,
    transition_distance,
)
from ..label_errors.rank import calibrated_class_quality, foreground_probs, get_label_quality_scores
from ..label_errors.summary import label_noise_benchmark, score_metrics
from ..noise.geometry import rle_to_mask, segmentation_to_mask
from ..utils.errors import UserInputError
from ..utils.files import load_json, save_json_streamed, write_image
from ..utils.run_folder import RunFolder
from .evidence import coco_metadata, collect_evidence
from .evidence_shards import Evidence, merge_evidence
from .instance import corrected_annotation
from .review_page import DEFAULT_LIMIT, REVIEW_DIR, write_review_page

__all__ = [
    "CORRECTED_JSON",
    "ISSUES_JSON",
    "SCORES_JSON",
    "WEIGHTED_JSON",
    "InstanceDataset",
    "collect_instance_evidence",
    "corrected_dataset",
    "draw_issue",
    "fold_image_ids",
    "image_folds",
    "label_issue_report",
    "top_issues",
    "load_instance_dataset",
    "merge_evidence",
    "spatially_noised",
    "weighted_dataset",
    "write_label_issues",
]

ISSUES_JSON = "issues.json"
SCORES_JSON = "scores.json"
CORRECTED_JSON = "corrected.json"
WEIGHTED_JSON = "weighted.json"
NOISE_PNG = "noise_matrix.png"
TOP_DIR = "top"
OUTPUT_NAMES = (ISSUES_JSON, SCORES_JSON, CORRECTED_JSON, WEIGHTED_JSON, NOISE_PNG, TOP_DIR, REVIEW_DIR)
_SCORE_NAMES = ("self_confidence", "normalized_margin", "gmm")
_GIVEN, _SUGGESTED = (0.1, 0.7, 0.2), (0.85, 0.15, 0.1)  # Visualizer colors (RGB in [0, 1]): green, red
_DRAWN_SIZE = 640  # pixels of an image's longer side in the PNGs


@dataclass
class InstanceDataset:
    """A registered COCO-format dataset: its detectron2 records, its raw json (annotations aligned by position) and
    the map of its category ids to the model's contiguous classes."""

    name: str
    records: list
    coco: dict
    id_map: dict
    json_file: str
    _records_by_id: dict = field(default_factory=dict, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.id_map)

    def record(self, image_id) -> dict:
        if not self._records_by_id:
            self._records_by_id = {record["image_id"]: record for record in self.records}
        return self._records_by_id[image_id]


def load_instance_dataset(name: str, *, needs_masks: bool) -> InstanceDataset:
    """The registered dataset `name`; with `needs_masks` it must have segmentation masks."""
    records = DatasetCatalog.get(name)  # first: loading a COCO json fills in the metadata's id map
    json_file, id_map = coco_metadata(name)
    coco = load_json(json_file)
    if needs_masks and not any(ann.get("segmentation") for ann in coco["annotations"]):
        raise UserInputError(f"{name} has no segmentation masks: mask scoring needs them (--no-masks turns it off)")
    return InstanceDataset(name, records, coco, id_map, str(json_file))


# ------------------------------------------------------------------------------------------------- evidence
def collect_instance_evidence(
    model,
    data: InstanceDataset,
    *,
    image_ids: Optional[Sequence] = None,
    shard_dir=None,
    fingerprint: str = "",
    with_masks: bool = True,
    detect_score: Optional[float] = 0.5,
    keep_masks: bool = False,
    augmentations: Optional[Sequence[T.Augmentation]] = None,
    image_format: Optional[str] = None,
    progress: bool = True,
    desc: str = "scoring annotations",
    batch_size: int = 1,
    num_workers: int = 0,
) -> Evidence:
    """The model's evidence (an `Evidence`, evidence_shards.py) on the images `image_ids` of `data` (default all),
    written in shards to `shard_dir` (continued from the shards there with the same `fingerprint`; None: kept in
    memory). `keep_masks` keeps the predicted masks (RLE) for drawing; `augmentations` / `image_format` default as in
    label correction. The model must fit `data`: the caller checks once (`inference.check_fits`, `check_mask_head`),
    before any fold is trained."""
    wanted = None if image_ids is None else set(image_ids)
    chosen = [(i, r) for i, r in enumerate(data.records) if wanted is None or r["image_id"] in wanted]
    if augmentations is None:
        augmentations = utils.build_augmentation(get_cfg(), is_train=False)
    image_format = image_format or getattr(model, "input_format", None) or "BGR"
    return collect_evidence(
        model,
        [record for _, record in chosen],
        data.coco,
        data.id_map,
        None if shard_dir is None else Path(shard_dir),
        fingerprint=fingerprint,
        positions=[position for position, _ in chosen],
        augmentations=augmentations,
        image_format=image_format,
        with_masks=with_masks,
        progress=progress,
        detect_score=detect_score,
        keep_masks=keep_masks,
        desc=desc,
        batch_size=batch_size,
        num_workers=num_workers,
    )


# ------------------------------------------------------------------------------------------------- K folds
def image_folds(image_ids: Sequence, folds: int, seed: int = 0) -> dict:
    """{image id: fold in 0..folds-1}: a seeded shuffle dealt round robin, so fold sizes differ by at most one."""
    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= len(image_ids):
        raise UserInputError(f"K-fold needs 2 <= folds <= the number of images ({len(image_ids)}), got {folds}")
    order = np.random.default_rng(seed).permutation(len(image_ids))
    return {image_ids[i]: position % folds for position, i in enumerate(order.tolist())}


def fold_image_ids(image_ids: Sequence, fold_of: dict, fold: int) -> tuple[list, list]:
    """(the training image ids: the other folds', the held-out ones: this fold's), each in the order of `image_ids`
    (the dataset's)."""
    return [i for i in image_ids if fold_of[i] != fold], [i for i in image_ids if fold_of[i] == fold]


# ------------------------------------------------------------------------------------------------- the report
class LazyRows(SequenceABC):
    """A sequence of dicts made one at a time from columns (`make(i)`): the rows of a report at COCO scale without a
    Python dict per row in memory; iterate it to stream a json list."""

    def __init__(self, length: int, make):
        self._length, self._make = length, make

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._make(j) for j in range(*i.indices(self._length))]
        if not -self._length <= i < self._length:
            raise IndexError(i)
        return self._make(i % self._length)


def label_issue_report(
    data: InstanceDataset,
    evidence: Evidence,
    *,
    method: str = "self_confidence",
    threshold: Optional[float] = None,
    mask_threshold: float = 0.5,
    score_threshold: float = 0.5,
    match_iou: float = 0.5,
    relabel_threshold: float = DEFAULT_RELABEL_THRESHOLD,
    fold_of: Optional[dict] = None,
) -> dict:
    """{"issues", "scores", "summary", "table"} from `evidence` with noisy_seg.label_errors (arguments as its
    `filter.find_label_issues`; mask issues when the evidence has mask IoUs, missing objects when it has
    detections). Category ids are the dataset's; `fold_of` ({image id: fold}) adds each row's fold.

    issues: one row per annotation with an issue (all its reasons) and one per missing object, ranked by the combined
        score (label_errors.combine): {"rank", "reasons", "ranks" ({type: rank within the type}), "annotation_id"
        (None for "missing"), "image_id", "given_category_id", "suggested_category_id" (None without a class
        reason), "score" (combined, lower is worse), "relabel" (the correction policy applies the suggestion:
        label_errors.correction, `relabel_threshold`), "fold"} and the evidence: "class_quality" (the calibrated
        self-confidence), "given_prob", "suggested_prob", "mask_iou", "annotation_index", "row" for an annotation;
        "detection_score", "bbox" (XYWH), "best_iou", "detection" (its row in the evidence's detections) for a
        missing object.
    scores: per scored annotation all scores (self_confidence, normalized_margin, gmm, calibrated_self_confidence,
        mask_iou), whether confident learning and `method` flag its class, its fold, and its clean_category_id /
        noise tag when it has them.
    Both are `LazyRows` (made from arrays when read); "table" holds the arrays: the issues per reason
    (`filter.find_label_issue_table`), the rows (`combine.combine_issues`), the scores, the relabel decisions and
    the detections' best IoU.
    summary: counts (per type and per class), the dataset's estimated class noise (label_errors.noise_estimate), the
        corrections, and with injected noise `summary.label_noise_benchmark` ("label_noise"), the mask IoU's
        `score_metrics` against spatial noise tags ("mask_noise"), the true transition matrix and what the
        corrections restored and broke."""
    rows, annotations = evidence.rows, data.coco["annotations"]
    if not evidence.num_rows:
        raise UserInputError(f"{data.name}: no annotation could be scored ({len(evidence.skipped['index'])} skipped)")
    detections = evidence.detections
    best_iou = label_filter.best_match_iou(  # first: its transient memory does not stack on the posteriors'
        np.asarray(detections["box"], np.float64),
        np.asarray(detections["image_id"]),
        *_annotation_boxes(annotations, evidence.image_ids),
    )
    labels = np.asarray(rows["given"], dtype=np.int64)
    pred_probs = foreground_probs(rows["class_probs"])
    # first among the posteriors' users: cleanlab's transients then stack on the posteriors alone, not on the tables
    noise_estimate = estimate_label_noise(labels, pred_probs) if len(labels) >= pred_probs.shape[1] else None
    mask_iou = np.asarray(rows["mask_iou"], np.float64)
    with_masks = not np.isnan(mask_iou).all()
    issues = label_filter.find_label_issue_table(
        labels,
        pred_probs,
        method=method,
        threshold=threshold,
        mask_iou=mask_iou if with_masks else None,
        mask_threshold=mask_threshold,
        score_threshold=score_threshold,
        match_iou=match_iou,
        **(
            {
                "detection_scores": np.asarray(detections["score"], np.float64),
                "detection_classes": np.asarray(detections["class"], np.int64),
                "detection_best_iou": best_iou,
            }
            if evidence.detected
            else {}
        ),
    )
    scores = {name: get_label_quality_scores(labels, pred_probs, method=name) for name in _SCORE_NAMES}
    scores["calibrated_self_confidence"] = calibrated_class_quality(labels, pred_probs)
    combined = combine_issues(issues, scores["calibrated_self_confidence"])
    class_issue = issues["type"] == ISSUE_TYPES.index("class")
    flagged_by_method = np.zeros(len(labels), bool)
    flagged_by_method[issues["index"][class_issue]] = True
    confident_learning = (
        flagged_by_method
        if method == "confident_learning"
        else label_filter.find_class_issues(labels, pred_probs, method="confident_learning")[0]
    )
    del pred_probs  # (N, K) float64, its last use: the transients of what follows do not stack on it
    best_other_prob = np.asarray(rows["best_other_prob"], np.float64)
    relabel = flagged_by_method & decide_corrections(best_other_prob, mask_iou, relabel_threshold, None)[0]
    table = {
        "issues": issues,
        "rows": combined,
        "scores": scores,
        "flags": {"confident_learning": confident_learning, method: flagged_by_method},
        "relabel": relabel,
        "best_iou": best_iou,
    }
    to_dataset = {contiguous: dataset_id for dataset_id, contiguous in data.id_map.items()}
    fold = (lambda image_id: fold_of[image_id]) if fold_of else (lambda image_id: None)
    noise = _injected_noise(annotations, rows["index"])
    counts = np.bincount(issues["type"].astype(np.int64), minlength=len(ISSUE_TYPES))
    summary = {
        "images": len(evidence.image_ids),
        "annotations": len(annotations),
        "scored": evidence.num_rows,
        "skipped": len(evidence.skipped["index"]),
        "skipped_by_reason": evidence.skipped_by_reason(),
        "detections": len(detections["score"]) if evidence.detected else None,
        "issues": {
            **{kind: int(n) for kind, n in zip(ISSUE_TYPES, counts)},
            "annotations": int((~combined["missing"]).sum()),
            "total": int(len(combined["index"])),
        },
        "per_class": _per_class(labels, issues, relabel, data),
        "noise_estimate": _noise_estimate(noise_estimate, labels, noise, to_dataset, data),
        "corrections": _corrections(
            labels,
            best_other_prob,
            rows["best_other"],
            flagged_by_method,
            relabel,
            noise,
            to_dataset,
            relabel_threshold,
        ),
    }
    summary.update(
        _noise_benchmarks(labels, to_dataset, noise, scores, mask_iou if with_masks else None, table["flags"])
    )
    return {
        "issues": LazyRows(
            len(combined["index"]),
            lambda i: _issue_row(i, table, evidence, best_iou, to_dataset, fold),
        ),
        "scores": LazyRows(
            evidence.num_rows, lambda i: _score_row(i, evidence, table, annotations, to_dataset, fold, method)
        ),
        "summary": summary,
        "table": table,
    }


def _per_class(labels: np.ndarray, issues: dict, relabel: np.ndarray, data: InstanceDataset) -> list:
    """Per class (dataset category id): annotations given it, its class and mask issues, the ones relabelled."""
    classes = data.num_classes
    per_type = {}
    for kind in ("class", "mask"):
        chosen = np.asarray(issues["index"])[issues["type"] == ISSUE_TYPES.index(kind)]
        per_type[kind] = np.bincount(labels[chosen], minlength=classes)
    given = np.bincount(labels, minlength=classes)
    relabelled = np.bincount(labels[relabel], minlength=classes)
    names = _class_names(data)
    return [
        {
            "category_id": category_id,
            "name": names[contiguous],
            "annotations": int(given[contiguous]),
            "class_issues": int(per_type["class"][contiguous]),
            "mask_issues": int(per_type["mask"][contiguous]),
            "relabelled": int(relabelled[contiguous]),
        }
        for category_id, contiguous in sorted(data.id_map.items(), key=lambda item: item[1])
    ]


def _class_names(data: InstanceDataset) -> list:
    names = MetadataCatalog.get(data.name).get("thing_classes", None)
    if names and len(names) == data.num_classes:
        return list(names)
    return [str(category_id) for category_id, _ in sorted(data.id_map.items(), key=lambda item: item[1])]


def _noise_estimate(estimate: Optional[dict], labels, noise: dict, to_dataset: dict, data: InstanceDataset):
    """The dataset's class noise estimated by confident learning (label_errors.estimate_label_noise; None with fewer
    annotations than classes) with its dataset category ids, and with injected noise the true transition matrix
    and the estimate's mean absolute error."""
    if estimate is None:
        return None
    estimate = {"category_ids": [to_dataset[k] for k in range(data.num_classes)], **estimate}
    known = noise["clean"] >= 0
    if known.any():
        clean = np.asarray([data.id_map.get(int(c), -1) for c in noise["clean"][known].tolist()])
        usable = clean >= 0
        truth = injected_transition(labels[known][usable], clean[usable], data.num_classes)
        given_clean = labels[known][usable] != clean[usable]
        estimate["injected"] = {
            "noise_rate": float(given_clean.mean()) if usable.any() else 0.0,
            "transition": truth.tolist(),
            "transition_error": transition_distance(estimate["transition"], truth),
        }
    return estimate


def _corrections(labels, best_other_prob, best_other, flagged, relabel, noise, to_dataset, relabel_threshold) -> dict:
    """The correction policy's counts; with injected class noise what it restored and broke, and the same at other
    thresholds (the class issues' suggestions only)."""
    found = {"relabel_threshold": relabel_threshold, "relabelled": int(relabel.sum())}
    known = noise["clean"] >= 0
    if known.any():
        to_id = np.zeros(max(to_dataset) + 1, np.int64)
        to_id[list(to_dataset)] = list(to_dataset.values())
        given = to_id[labels[known]]
        suggested = to_id[np.asarray(best_other, np.int64)[known]]
        clean = noise["clean"][known]
        found["label_noise"] = count_label_changes(given, np.where(relabel[known], suggested, given), clean)
        found["relabel_threshold_sweep"] = threshold_sweep(
            given, clean, suggested, np.where(flagged[known], best_other_prob[known], -np.inf)
        )
    return found


def _annotation_boxes(annotations: list, image_ids) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (XYWH) and image ids of every annotation of the scored images with a box, crowd ones included: a
    detection on any of them is no missing object. Read straight into arrays (no list of a million box lists)."""
    scored = set(np.asarray(image_ids).tolist())
    kept = [a for a in annotations if a.get("image_id") in scored and _usable_box(a.get("bbox"))]
    boxes = np.fromiter((value for a in kept for value in a["bbox"]), np.float64, count=4 * len(kept))
    return boxes.reshape(-1, 4), np.fromiter((a["image_id"] for a in kept), np.int64, count=len(kept))


def _usable_box(box) -> bool:
    return (
        isinstance(box, (list, tuple))
        and len(box) == 4
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in box)
    )


def _issue_row(i: int, table: dict, evidence: Evidence, best_iou, to_dataset, fold) -> dict:
    rows = table["rows"]
    index, reasons = int(rows["index"][i]), reasons_of(int(rows["reasons"][i]))
    ranks = {kind: int(rows[f"rank_{kind}"][i]) for kind in reasons}
    score = float(rows["score"][i])
    if rows["missing"][i]:
        detections = evidence.detections
        image_id = int(detections["image_id"][index])
        return {
            "rank": i + 1,
            "reasons": reasons,
            "ranks": ranks,
            "annotation_id": None,
            "image_id": image_id,
            "given_category_id": None,
            "suggested_category_id": to_dataset[int(rows["suggested_class"][i])],
            "score": score,
            "relabel": False,
            "detection_score": float(detections["score"][index]),
            "bbox": np.asarray(detections["box"][index], np.float64).tolist(),
            "best_iou": float(best_iou[index]),
            "detection": index,
            "fold": fold(image_id),
        }
    row = evidence.row(index)
    suggested = int(rows["suggested_class"][i])
    return {
        "rank": i + 1,
        "reasons": reasons,
        "ranks": ranks,
        "annotation_id": row["id"],
        "image_id": row["image_id"],
        "given_category_id": to_dataset[row["given"]],
        "suggested_category_id": None if suggested < 0 else to_dataset[suggested],
        "score": score,
        "relabel": bool(table["relabel"][index]),
        "class_quality": float(table["scores"]["calibrated_self_confidence"][index]),
        "given_prob": row["given_prob"],
        "suggested_prob": row["best_other_prob"],
        "mask_iou": row["mask_iou"],
        "annotation_index": row["index"],
        "row": index,
        "fold": fold(row["image_id"]),
    }


def _score_row(i: int, evidence: Evidence, table: dict, annotations, to_dataset, fold, method: str) -> dict:
    row = evidence.row(i)
    ann = annotations[row["index"]]
    return {
        "annotation_id": row["id"],
        "image_id": row["image_id"],
        "annotation_index": row["index"],
        "given_category_id": to_dataset[row["given"]],
        "suggested_category_id": to_dataset[row["best_other"]],
        **{name: float(values[i]) for name, values in table["scores"].items()},
        "mask_iou": row["mask_iou"],
        "confident_learning": bool(table["flags"]["confident_learning"][i]),
        "flagged": bool(table["flags"][method][i]),
        "fold": fold(row["image_id"]),
        **{key: ann[key] for key in ("clean_category_id", "noise") if key in ann},
    }


def _injected_noise(annotations: list, indices) -> dict:
    """Per scored annotation its clean_category_id (-1: none) and noise tag (None: none), from the json."""
    chosen = [annotations[i] for i in np.asarray(indices).tolist()]
    return {
        "clean": np.asarray([ann.get("clean_category_id", -1) for ann in chosen], np.int64),
        "tags": [ann.get("noise") for ann in chosen],
    }


def _noise_benchmarks(labels, to_dataset, noise: dict, scores: dict, mask_iou: Optional[np.ndarray], flags) -> dict:
    """With injected class noise (`clean_category_id`, tools/make_noisy_dataset.py): how well each score finds
    the flipped annotations; with noise tags and masks: how well the mask IoU finds the spatially noised ones."""
    known = noise["clean"] >= 0
    found = {}
    if known.any():
        every = bool(known.all())  # the usual case (a json the tool wrote): no copy of each score

        def known_only(values: np.ndarray) -> np.ndarray:
            return values if every else values[known]

        dataset_ids = np.asarray([to_dataset[k] for k in range(len(to_dataset))], np.int64)
        found["label_noise"] = label_noise_benchmark(
            dataset_ids[known_only(labels)],
            known_only(noise["clean"]),
            {name: known_only(values) for name, values in scores.items()},
            {name: known_only(flagged) for name, flagged in flags.items()},
        )
    tagged = np.asarray([tag is not None for tag in noise["tags"]], bool)
    if mask_iou is not None and tagged.any():
        spatial = np.asarray([spatially_noised(tag) for tag in noise["tags"] if tag is not None])
        found["mask_noise"] = score_metrics(spatial, mask_iou[tagged])
    return found


def spatially_noised(tag: str) -> bool:
    """A make_noisy_dataset tag ("clean", "class_flip", "dilate", "erode_skipped", "class_flip+jitter", ...) with
    a spatial op that was applied."""
    return any(part not in ("clean", "class_flip") and not part.endswith("_skipped") for part in tag.split("+"))


# ------------------------------------------------------------------------------------------------- outputs
def write_label_issues(
    output,
    data: InstanceDataset,
    evidence: Evidence,
    report: dict,
    *,
    settings: dict,
    top: int = 20,
    write_corrected: bool = True,
    review_limit: int = DEFAULT_LIMIT,
    progress: bool = True,
) -> None:
    """Write the files of the module doc into `output`: a new (or empty) folder, or the RunFolder the caller opened
    for this run with `settings` (e.g. one that already holds the fold trainings); the run is marked finished last.
    The per-annotation files are streamed from the report's arrays (no list of a million dicts). `write_corrected`
    False (the quality gate failed) leaves corrected.json out; `review_limit` rows go to the review page (0: none)."""
    folder = output if isinstance(output, RunFolder) else RunFolder.open(output, settings, how_to_resume=None)
    output_dir = folder.path
    # the figure first: its fixed cost (matplotlib's canvas and fonts, ~14 MiB) then stacks on the fewest transients
    noise = report["summary"].get("noise_estimate")
    if noise is not None:
        matrices = {f"estimated (noise rate {noise['noise_rate']:.2f})": noise["transition"]}
        if "injected" in noise:
            matrices[f"injected (noise rate {noise['injected']['noise_rate']:.2f})"] = noise["injected"]["transition"]
        draw_transition_matrices(
            matrices, _class_names(data), output_dir / NOISE_PNG, title="P(given class | true class)"
        )
    save_json_streamed(iter(report["scores"]), output_dir / SCORES_JSON)
    if write_corrected:
        save_json_streamed(corrected_dataset(data, report["table"], evidence), output_dir / CORRECTED_JSON)
    save_json_streamed(weighted_dataset(data, evidence, report["table"]["scores"]["gmm"]), output_dir / WEIGHTED_JSON)
    drawn = [(kind, issue) for kind, issue in top_issues(report, top)]
    for kind, issue in tqdm(drawn, desc="drawing issues", disable=not progress or not drawn):
        image = draw_issue(data, issue, evidence, kind=kind)
        name = issue["annotation_id"] if issue["annotation_id"] is not None else f"image{issue['image_id']}"
        write_image(output_dir / TOP_DIR / kind / f"{issue['ranks'][kind]:04d}_{name}.png", image[:, :, ::-1])
    if review_limit:
        names = _class_names(data)
        write_review_page(
            output_dir / REVIEW_DIR,
            data.coco,
            report["issues"],
            report["summary"],
            {category_id: names[contiguous] for category_id, contiguous in data.id_map.items()},
            {record["image_id"]: record["file_name"] for record in data.records},
            run=str(output_dir.resolve()),
            limit=review_limit,
            progress=progress,
        )
    issues = (
        {key: value for key, value in issue.items() if key != "detection"}  # a pointer into `evidence`
        for issue in report["issues"]
    )
    save_json_streamed(
        {"settings": settings, "summary": report["summary"], "issues": issues}, output_dir / ISSUES_JSON, indent=True
    )
    folder.finish()


def top_issues(report: dict, top: int):
    """(type, issue row) of the first `top` issues of each type, by their rank within the type."""
    rows = report["table"]["rows"]
    for kind in ISSUE_TYPES:
        ranks = rows[f"rank_{kind}"]
        chosen = np.flatnonzero((ranks > 0) & (ranks <= top))
        for i in chosen[np.argsort(ranks[chosen], kind="stable")].tolist():
            yield kind, report["issues"][i]


def corrected_dataset(data: InstanceDataset, table: dict, evidence: Evidence) -> dict:
    """The dataset's json with the correction policy applied (label_errors.correction: a class issue whose suggested
    class is more probable than the relabel threshold takes it, `original_category_id` keeps the given one) and a
    `correction` entry on every annotation with a class or mask issue (instance.corrected_annotation; only the
    relabelled ones carry `original_category_id`); nothing else changes. `table`: the report's arrays; the
    "annotations" value is a generator (save_json_streamed writes it)."""
    count = len(data.coco["annotations"])
    rows = table["rows"]
    annotation_rows = ~rows["missing"]
    reasons = np.zeros(count, np.int64)  # per annotation index: its issue reasons (bits)
    evidence_index = np.asarray(evidence.rows["index"])
    reasons[evidence_index[rows["index"][annotation_rows]]] = rows["reasons"][annotation_rows]
    row_of = np.full(count, -1, np.int64)
    row_of[evidence_index] = np.arange(evidence.num_rows)
    to_dataset = {contiguous: dataset_id for dataset_id, contiguous in data.id_map.items()}
    relabel = table["relabel"]
    wanted = REASON_BITS["class"] | REASON_BITS["mask"]

    def annotations():
        for index, ann in enumerate(data.coco["annotations"]):
            bits = int(reasons[index]) & wanted
            if not bits:
                yield ann
                continue
            row = evidence.row(int(row_of[index]))
            yield corrected_annotation(
                ann,
                {
                    "reasons": reasons_of(bits),
                    "relabel": bool(relabel[row_of[index]]),
                    "suggested_category_id": to_dataset[row["best_other"]],
                    "given_prob": row["given_prob"],
                    "suggested_prob": row["best_other_prob"],
                    "mask_iou": row["mask_iou"],
                },
            )

    return {**data.coco, "annotations": annotations()}


def weighted_dataset(data: InstanceDataset, evidence: Evidence, gmm) -> dict:
    """The dataset's json with "loss_weight" on every scored annotation: its GMM clean probability (`gmm`, one per
    evidence row, 4 decimals), for training with per-annotation loss weights; unscored annotations (crowd, no usable
    box) get none (weight 1 in training); nothing else changes. The "annotations" value is a generator."""
    weights = np.full(len(data.coco["annotations"]), np.nan)
    weights[np.asarray(evidence.rows["index"])] = np.round(np.asarray(gmm, float), 4)

    def annotations():
        for ann, weight in zip(data.coco["annotations"], weights.tolist()):
            yield ann if weight != weight else {**ann, "loss_weight": weight}  # NaN: not scored

    return {**data.coco, "annotations": annotations()}


def draw_issue(data: InstanceDataset, issue: dict, evidence: Evidence, *, kind: Optional[str] = None) -> np.ndarray:
    """(H, 2W, 3) RGB: left the annotation as given, right what the model suggests (the class suggestion and the
    predicted mask with its IoU, for every reason of the row); titled with the issue type `kind` (default the row's
    first reason) and its rank within that type."""
    kind = kind or issue["reasons"][0]
    record = data.record(issue["image_id"])
    image = utils.read_image(record["file_name"], format="RGB")
    height, width = image.shape[:2]
    scale = min(4.0, max(0.5, _DRAWN_SIZE / max(height, width)))
    names = MetadataCatalog.get(data.name).get("thing_classes", None)
    contiguous = data.id_map

    def name(category_id):
        index = contiguous[category_id]
        return names[index] if names and index < len(names) else str(category_id)

    if kind == "missing":
        given = [
            a
            for a in data.coco["annotations"]
            if a.get("image_id") == issue["image_id"]
            and _usable_box(a.get("bbox"))
            and a.get("category_id") in contiguous
        ]
        left = _overlay(
            image,
            scale,
            [a["bbox"] for a in given],
            [f"annotated: {name(a['category_id'])}" for a in given],
            [segmentation_to_mask(a.get("segmentation"), height, width) for a in given],
            _GIVEN,
        )
        rle = evidence.detection_mask(issue["detection"])
        mask = rle_to_mask(rle).astype(bool) if rle is not None else None
        captions = (
            f"annotated: {len(given)} objects",
            f"missing? {name(issue['suggested_category_id'])} {issue['detection_score']:.2f}",
        )
        right = _overlay(image, scale, [issue["bbox"]], [captions[1]], [mask], _SUGGESTED)
    else:
        ann = data.coco["annotations"][issue["annotation_index"]]
        row = evidence.row(issue["row"])
        gt_mask = segmentation_to_mask(ann.get("segmentation"), height, width)
        given_caption = f"given: {name(issue['given_category_id'])} {issue['given_prob']:.2f}"
        left = _overlay(image, scale, [ann["bbox"]], [given_caption], [gt_mask], _GIVEN)
        predicted = rle_to_mask(row["predicted_mask"]).astype(bool) if "predicted_mask" in row else None
        parts = []
        if "class" in issue["reasons"]:
            action = "relabel to" if issue["relabel"] else "suggested"
            parts.append(f"{action}: {name(issue['suggested_category_id'])} {issue['suggested_prob']:.2f}")
        if issue["mask_iou"] is not None:
            parts.append(f"mask IoU {issue['mask_iou']:.2f}")
        captions = (given_caption, "; ".join(parts) or "predicted")
        right = _overlay(image, scale, [ann["bbox"]], [captions[1]], [predicted], _SUGGESTED)
    title = f"{kind} issue #{issue['ranks'][kind]} (reasons: {', '.join(issue['reasons'])})"
    return _titled(left, right, title, captions)


def _titled(left: np.ndarray, right: np.ndarray, title: str, captions) -> np.ndarray:
    """The two panels (RGB) side by side under a white band: the title, then each panel's caption above it (the
    Visualizer's own labels can fall off the image for an object at its edge)."""
    band = np.full((46, left.shape[1] + right.shape[1], 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(band, title, (6, 18), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    for x, caption, color in ((6, captions[0], _GIVEN), (left.shape[1] + 6, captions[1], _SUGGESTED)):
        cv2.putText(band, caption, (x, 39), font, 0.5, tuple(int(255 * c) for c in color), 1, cv2.LINE_AA)
    return np.concatenate([band, np.concatenate([left, right], axis=1)], axis=0)


def _overlay(image: np.ndarray, scale: float, boxes_xywh, labels, masks, color) -> np.ndarray:
    visualizer = Visualizer(image, metadata=None, scale=scale)
    boxes = [[x, y, x + w, y + h] for x, y, w, h in boxes_xywh]
    masks = None if not masks or any(m is None for m in masks) else list(masks)
    if boxes:
        visualizer.overlay_instances(
            boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
            labels=labels,
            masks=masks,
            assigned_colors=[color] * len(boxes),
        )
    return visualizer.output.get_image()
