"""Semantic pseudo labels from a trained model (Wang et al. 2022, seed 003): logits averaged over scales and a
horizontal flip, a tag-masked argmax, optionally thresholded on confidence, saved as label PNGs with a manifest that
`noisy_seg.data.register_pseudo_label_dataset` registers as a detectron2 dataset.

Output folder:
    labels/<image stem>.png       uint8 train ids, the ignore label (255) where no label is given
    confidence/<image stem>.png   uint8, the max softmax probability over the allowed classes x 255
    manifest.json                 settings, "complete", one detectron2 semantic record per image (label paths
                                  relative to the folder) and, when the source records keep true label maps,
                                  "quality" (mIoU over covered pixels, per-class IoU, coverage)
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Optional, Sequence, Union

import cv2
import numpy as np
import torch
from PIL import Image

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.utils import comm

from ..data.checks import check_datasets_available
from ..data.image_tags import check_tag_keys, read_tag_file, record_tags
from ..evaluation.sem_seg import load_label_map
from ..inference.loop import first_process, predict_dataset
from ..inference.model import check_fits, predicted_classes
from ..inference.semantic import RECORD_INDEX, multiscale_logits, semantic_inputs, semantic_mapper
from ..noise import record_image_id
from ..utils.errors import UserInputError
from ..utils.files import load_json, png_is_complete, remove_stale_temp_files, save_json_atomic, write_image
from ..utils.run_folder import RunFolder

__all__ = [
    "DEFAULT_SCALES",
    "MANIFEST",
    "confusion_matrix",
    "generate_pseudo_labels",
    "label_quality",
    "multiscale_logits",
    "pseudo_label_from_logits",
    "resolve_image_tags",
]

logger = logging.getLogger("noisy_seg")

DEFAULT_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5)
MANIFEST = "manifest.json"
LABELS, CONFIDENCE = "labels", "confidence"


def _present_mask(present, num_classes: int, device) -> torch.Tensor:
    """A bool (..., C) mask from a bool tensor or a sequence of class indices."""
    if isinstance(present, torch.Tensor) and present.dtype == torch.bool:
        mask = present.to(device)
    else:
        mask = torch.zeros(num_classes, dtype=torch.bool, device=device)
        mask[torch.as_tensor(list(present), dtype=torch.long, device=device)] = True
    if mask.shape[-1] != num_classes:
        raise ValueError(f"present has {mask.shape[-1]} classes, the logits {num_classes}")
    return mask


def pseudo_label_from_logits(
    logits: torch.Tensor, present=None, threshold: Optional[float] = None, ignore_label: int = 255
) -> tuple[torch.Tensor, torch.Tensor]:
    """(label map uint8 (H, W), confidence float32 (H, W)) from (C, H, W) logits (or batched (N, C, H, W)).

    present: the classes the image may hold (its tags): a bool (C,) / (N, C) tensor or a list of class indices;
        the other classes get -inf before the softmax and the argmax. None: every class. An image with no
        present class gets the ignore label everywhere (its tags say nothing in it is a class).
    threshold: pixels whose confidence (the max softmax probability over the present classes) is below it get
        `ignore_label`; None or 0: none.
    """
    num_classes = logits.shape[-3]
    if num_classes > ignore_label or ignore_label > 255:
        raise ValueError(
            f"{num_classes} classes and ignore_label {ignore_label} do not fit a uint8 label map "
            "whose ignore label is no class"
        )
    logits = logits.float()
    has_class = None
    if present is not None:
        mask = _present_mask(present, num_classes, logits.device)
        logits = logits.masked_fill(~mask[..., None, None], float("-inf"))
        has_class = mask.any(dim=-1)[..., None, None]
    top, labels = logits.max(dim=-3)
    # max softmax probability = exp(max - logsumexp): no (C, H, W) probability tensor
    confidence = torch.exp(top - torch.logsumexp(logits, dim=-3))
    ignore = torch.zeros_like(top, dtype=torch.bool)
    if has_class is not None:
        ignore |= ~has_class
        confidence = confidence.masked_fill(~has_class, 0.0)
    if threshold:
        ignore |= confidence < threshold
    labels = labels.masked_fill(ignore, ignore_label).to(torch.uint8)
    return labels, confidence


def confusion_matrix(predicted: np.ndarray, truth: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) int64 counts [true class, predicted class] over the pixels labelled on both sides (values outside
    [0, C), such as the ignore label, are left out); one bincount."""
    predicted, truth = np.asarray(predicted).ravel(), np.asarray(truth).ravel()
    both = (predicted < num_classes) & (truth < num_classes)
    pairs = truth[both].astype(np.int64) * num_classes + predicted[both]
    return np.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def label_quality(confusion: np.ndarray, class_names: Sequence[str], pixels: int, covered: int) -> dict:
    """mIoU, per-class IoU ("IoU": {class name: IoU}) and pixel accuracy (pACC) over the pixels labelled on both
    sides, in percent like SemSegEvaluator, and the coverage: the fraction of pixels the pseudo labels label.

    Like detectron2's SemSegEvaluator, only classes that occur in the true maps enter the mean; a class that
    neither occurs nor is predicted has no IoU (nor does one predicted but absent: its pixels already lower the
    IoU of the classes they belong to)."""
    confusion = confusion.astype(np.float64)
    true_positives = np.diag(confusion)
    occurs = confusion.sum(axis=1)
    union = occurs + confusion.sum(axis=0) - true_positives
    valid = (occurs > 0) & (union > 0)
    iou = np.divide(true_positives, union, out=np.zeros_like(union), where=valid)
    labelled = confusion.sum()
    return {
        "mIoU": float(100 * iou[valid].mean()) if valid.any() else float("nan"),
        "IoU": {class_names[c]: float(100 * iou[c]) for c in np.flatnonzero(valid)},
        "pACC": float(100 * true_positives.sum() / labelled) if labelled else float("nan"),
        "coverage": covered / pixels if pixels else 0.0,
        "pixels": int(pixels),
        "covered_pixels": int(covered),
    }


def _source(dataset_name: str) -> tuple[list[dict], list[str], int]:
    """(records, class names, ignore label) of a registered semantic dataset."""
    check_datasets_available([dataset_name])
    records = DatasetCatalog.get(dataset_name)
    if not records:
        raise UserInputError(f"dataset '{dataset_name}' has no records")
    metadata = MetadataCatalog.get(dataset_name)
    class_names = metadata.get("stuff_classes", None)
    if not class_names:
        raise UserInputError(
            f"dataset '{dataset_name}' has no stuff_classes in its metadata: pseudo labels need the "
            "class names of the model's outputs"
        )
    return records, list(class_names), int(metadata.get("ignore_label", 255))


def _stems(records: Sequence[dict], dataset_name: str) -> list[str]:
    stems = [Path(record["file_name"]).stem for record in records]
    twice = [stem for stem, count in Counter(stems).items() if count > 1]
    if twice:
        raise UserInputError(
            f"dataset '{dataset_name}': two images share the file stem {twice[0]!r}; pseudo labels are named after it"
        )
    return stems


def resolve_image_tags(records: Sequence[dict], tag_file: Optional[str], class_names: Sequence[str]) -> list:
    """Each record's allowed classes (a list of class indices) or None (all): its tags as
    `noisy_seg.data.image_tags` reads them (the record's "image_tags", else its entry in `tag_file` by image id or
    file stem). A tag file that names unknown classes, or keys that match no image of `records`, is an error."""
    num_classes = len(class_names)
    try:
        tags_by_key = read_tag_file(tag_file, num_classes, class_names) if tag_file is not None else {}
        check_tag_keys(tags_by_key, records, tag_file)
        return [record_tags(record, tags_by_key, num_classes) for record in records]
    except ValueError as err:
        raise UserInputError(str(err)) from None


def _check_settings(scales, threshold) -> None:
    if not scales or any(not float(s) > 0 for s in scales):
        raise UserInputError(f"scales must be positive numbers, got {list(scales)}")
    if threshold is not None and not 0 <= threshold <= 1:
        raise UserInputError(f"threshold must lie in [0, 1], got {threshold}")


def _done(output: Path, stem: str) -> bool:
    """Both maps of an image are on disk and whole (an empty or cut-off PNG, as a full disk left them before
    writes were checked, is redone)."""
    return png_is_complete(output / LABELS / f"{stem}.png") and png_is_complete(output / CONFIDENCE / f"{stem}.png")


def _left_to_do(output: Path, stems: Sequence[str]) -> list[int]:
    """The images without both maps whole; the stale temp files of a killed run are removed first."""
    for folder in (output, output / LABELS, output / CONFIDENCE):
        remove_stale_temp_files(folder)
    todo = [i for i, stem in enumerate(stems) if not _done(output, stem)]
    damaged = [
        stems[i]
        for i in todo
        if (output / LABELS / f"{stems[i]}.png").exists() or (output / CONFIDENCE / f"{stems[i]}.png").exists()
    ]
    if damaged:
        logger.warning("Redoing %d image(s) whose maps are empty or cut off (e.g. %s)", len(damaged), damaged[0])
    return todo


def _write_maps(output: Path, stem: str, labels: torch.Tensor, confidence: torch.Tensor) -> None:
    write_image(output / LABELS / f"{stem}.png", labels.cpu().numpy())
    confidence_u8 = (confidence * 255).round().clamp_(0, 255).to(torch.uint8)
    write_image(output / CONFIDENCE / f"{stem}.png", confidence_u8.cpu().numpy())


def _manifest_record(record: dict, stem: str, tags, output: Path) -> dict:
    label = f"{LABELS}/{stem}.png"
    height, width = record.get("height"), record.get("width")
    if height is None or width is None:
        width, height = Image.open(output / label).size  # header only
    entry = {
        "file_name": record["file_name"],
        "sem_seg_file_name": label,
        "confidence_file_name": f"{CONFIDENCE}/{stem}.png",
        "height": int(height),
        "width": int(width),
        "image_id": record_image_id(record),
    }
    if tags is not None:
        entry["image_tags"] = list(tags)
    return entry


def _quality(records, stems, output: Path, class_names, ignore_label: int) -> Optional[dict]:
    """Quality against the true maps the source records keep (e.g. a weak split, for measurement only)."""
    scored = [(record, stem) for record, stem in zip(records, stems) if record.get("sem_seg_file_name")]
    if not scored:
        return None
    confusion = np.zeros((len(class_names),) * 2, dtype=np.int64)
    pixels = covered = 0
    for record, stem in scored:
        predicted = cv2.imread(str(output / LABELS / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
        confusion += confusion_matrix(predicted, load_label_map(record["sem_seg_file_name"]), len(class_names))
        pixels += predicted.size
        covered += int(np.count_nonzero(predicted != ignore_label))
    return {**label_quality(confusion, class_names, pixels, covered), "images": len(scored)}


def generate_pseudo_labels(
    model,
    dataset_name: str,
    output_dir: Union[str, Path],
    *,
    scales: Sequence[float] = DEFAULT_SCALES,
    flip: bool = True,
    threshold: Optional[float] = None,
    tag_file: Optional[str] = None,
    resume: bool = False,
    augmentations: Sequence = (),
    image_format: str = "BGR",
    batch_size: int = 1,
    num_workers: int = 0,
    checkpoint: str = "",
    progress: bool = True,
) -> dict:
    """Pseudo label maps of every image of the registered semantic dataset `dataset_name`, written to `output_dir`
    (see the module docstring); returns the manifest.

    Tags: a record's "image_tags" (class indices), else its entry in `tag_file`; an image without tags may take
    every class. `augmentations` / `image_format` are the test mapper's (the config's `dataloader.test.mapper`).
    `checkpoint` is recorded with the settings. With `resume`, an interrupted run into the same folder with the same
    settings continues: images whose maps are on disk and whole are not predicted again. Every input is checked before
    anything is written; a map that cannot be written raises OSError naming it (nothing half-written is left).
    Under detectron2's `launch` each process predicts and writes its share of the maps; the first opens the folder
    and writes the manifest, and every process returns it.
    """
    _check_settings(scales, threshold)
    records, class_names, ignore_label = _source(dataset_name)
    check_fits(predicted_classes(model), len(class_names), dataset_name)
    stems = _stems(records, dataset_name)
    tags = resolve_image_tags(records, tag_file, class_names)
    settings = {
        "source_dataset": dataset_name,
        "scales": [float(s) for s in scales],
        "flip": bool(flip),
        "threshold": None if threshold is None else float(threshold),
        "checkpoint": str(checkpoint),
        "class_names": class_names,
        "ignore_label": ignore_label,
        "tag_file": None if tag_file is None else str(Path(tag_file).resolve()),
    }
    output, main = Path(output_dir), comm.is_main_process()

    def open_folder():  # under launch, the first process opens the folder and says what is left to every process
        folder = RunFolder.open(
            output,
            settings,
            resume=resume,
            owned={MANIFEST, LABELS, CONFIDENCE},
            flag="output",
            how_to_resume="resume=True",
        )
        # written first, incomplete: never registered (the dataset loader asks for "complete") until the end
        save_json_atomic({"settings": settings, "complete": False, "records": []}, output / MANIFEST, indent=True)
        return folder, _left_to_do(output, stems)

    folder, todo = first_process(open_folder)  # every process shards the same list

    predictions = predict_dataset(
        model,
        semantic_inputs(records, todo),
        semantic_mapper(augmentations, image_format),
        lambda model, batch: multiscale_logits(model, batch, settings["scales"], settings["flip"]),
        batch_size=batch_size,
        num_workers=num_workers,
        progress=progress,
        desc="pseudo labels",
        total=len(records),
    )
    for inputs, logits in predictions:
        index = inputs[RECORD_INDEX]
        labels, confidence = pseudo_label_from_logits(logits, tags[index], settings["threshold"], ignore_label)
        _write_maps(output, stems[index], labels, confidence)
    comm.synchronize()  # every process's maps are on disk
    if not main:
        comm.synchronize()  # the first process writes the manifest
        return load_json(output / MANIFEST)

    manifest = {
        "settings": settings,
        "complete": True,
        "num_images": len(records),
        "records": [_manifest_record(r, s, t, output) for r, s, t in zip(records, stems, tags)],
    }
    quality = _quality(records, stems, output, class_names, ignore_label)
    if quality is not None:
        manifest["quality"] = quality
        logger.info(
            "Pseudo-label quality on %d images: mIoU %.2f over covered pixels, coverage %.1f%%",
            quality["images"],
            quality["mIoU"],
            100 * quality["coverage"],
        )
    save_json_atomic(manifest, output / MANIFEST, indent=True)
    folder.finish()
    comm.synchronize()
    return manifest
