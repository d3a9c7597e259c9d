"""The model's evidence on a dataset's annotations as columns of arrays (`Evidence`), written in shards and merged.

An `Evidence` is four tables, each a dict of equally long numpy arrays:
- images: the scored images (`image_id`, `position`: the record's place in the dataset, which orders everything);
- rows: one per scored annotation (ROW_COLUMNS: its `index` in the json's annotation list, `id`, `image_id`, the
  `given` and `best_other` contiguous classes and their probabilities, `background_prob`, `mask_iou` (NaN: none)
  and `class_probs` (N, K + 1), float32) and, when kept for drawing, `predicted_mask` (RLE counts) and `mask_size`;
- skipped: annotations not scored (`index`, `id`, `image_id`, `reason`: a code into SKIP_REASONS);
- detections: the model's own confident detections (`image_id`, `position`, `box` XYWH, `score`, `class`) and,
  when kept, `mask` / `mask_size`.
At COCO scale (860k annotations, 81 classes) the class probabilities take 280 MB as float32, where Python lists of
floats took several GB.

A shard is a folder of `.npy` files, one per column (a ragged column of RLE strings: a byte buffer and its ends),
and `shard.json` (the run's fingerprint, the rank that wrote it, its images). It is written under a temp name and
renamed (atomic); reading memory-maps the files. `merge_evidence` is the one merge: of one run's shards (a process's
shards, several processes' shares) and of several runs' evidence (K folds) alike, ordered by image position and
annotation index, so the result does not depend on how the images were split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from ..utils.columns import concatenate_tables, load_shard_folder, save_tables, take_rows
from ..utils.errors import UserInputError

__all__ = [
    "ROW_COLUMNS",
    "SKIP_REASONS",
    "Evidence",
    "load_shards",
    "merge_evidence",
    "save_shard",
]

SKIP_REASONS = ("crowd", "unknown category", "no usable box", "image not in dataset")
NOT_IN_DATASET = SKIP_REASONS.index("image not in dataset")
ROW_COLUMNS = {  # name: dtype (class_probs is (N, K + 1))
    "index": np.int64,
    "id": np.int64,
    "image_id": np.int64,
    "given": np.int32,
    "best_other": np.int32,
    "given_prob": np.float32,
    "best_other_prob": np.float32,
    "background_prob": np.float32,
    "mask_iou": np.float32,
    "class_probs": np.float32,
}
SKIPPED_COLUMNS = {"index": np.int64, "id": np.int64, "image_id": np.int64, "reason": np.int8}
DETECTION_COLUMNS = {
    "image_id": np.int64,
    "position": np.int64,
    "box": np.float32,
    "score": np.float32,
    "class": np.int32,
}
IMAGE_COLUMNS = {"image_id": np.int64, "position": np.int64}
TABLES = ("images", "rows", "skipped", "detections")


@dataclass
class Evidence:
    images: dict
    rows: dict
    skipped: dict
    detections: dict
    detected: bool = False  # detections were asked for (a table without any still says the model found none)

    @classmethod
    def empty(cls, num_columns: int, detected: bool = False) -> "Evidence":
        """No images: the tables with their columns, class_probs (0, num_columns)."""
        rows = {name: np.zeros(0, dtype) for name, dtype in ROW_COLUMNS.items()}
        rows["class_probs"] = np.zeros((0, num_columns), np.float32)
        detections = {name: np.zeros(0, dtype) for name, dtype in DETECTION_COLUMNS.items()}
        detections["box"] = np.zeros((0, 4), np.float32)
        return cls(
            {name: np.zeros(0, dtype) for name, dtype in IMAGE_COLUMNS.items()},
            rows,
            {name: np.zeros(0, dtype) for name, dtype in SKIPPED_COLUMNS.items()},
            detections,
            detected,
        )

    def table(self, name: str) -> dict:
        return getattr(self, name)

    @property
    def image_ids(self) -> np.ndarray:
        return self.images["image_id"]

    @property
    def num_rows(self) -> int:
        return len(self.rows["index"])

    def row(self, i: int) -> dict:
        """Row `i` as Python values: mask_iou None without a mask, predicted_mask an RLE dict when kept."""
        row = {name: _python(self.rows[name][i]) for name in ROW_COLUMNS if name != "class_probs"}
        row["mask_iou"] = None if np.isnan(self.rows["mask_iou"][i]) else row["mask_iou"]
        if "predicted_mask" in self.rows:
            row["predicted_mask"] = _rle(self.rows["predicted_mask"][i], self.rows["mask_size"][i])
        return row

    def detection_mask(self, j: int) -> Optional[dict]:
        if "mask" not in self.detections:
            return None
        return _rle(self.detections["mask"][j], self.detections["mask_size"][j])

    def skipped_entries(self) -> Iterable[dict]:
        """The skipped annotations as {"index", "id", "image_id", "reason"} dicts."""
        columns = self.skipped
        for index, ann_id, image_id, reason in zip(
            columns["index"].tolist(), columns["id"].tolist(), columns["image_id"].tolist(), columns["reason"].tolist()
        ):
            yield {"index": index, "id": ann_id, "image_id": image_id, "reason": SKIP_REASONS[reason]}

    def skipped_by_reason(self) -> dict:
        counts = np.bincount(np.asarray(self.skipped["reason"], np.int64), minlength=len(SKIP_REASONS))
        return {SKIP_REASONS[code]: int(n) for code, n in enumerate(counts) if n}


def merge_evidence(parts: Sequence[Evidence]) -> Evidence:
    """One evidence from the evidences of disjoint image sets (a run's shards, or K folds): images and detections in
    dataset order (by position, a detection's order within its image kept), rows and skipped annotations by index;
    an annotation counts as "image not in dataset" only when no part scored its image."""
    if not parts:
        raise ValueError("merge_evidence needs at least one part")
    if len({part.detected for part in parts}) > 1:
        raise UserInputError("the evidence parts to merge were scored with and without detections: use one setting")
    tables = {name: concatenate_tables([part.table(name) for part in parts], "evidence parts") for name in TABLES}
    images, rows, skipped, detections = (tables[name] for name in TABLES)
    if len(np.unique(images["image_id"])) != len(images["image_id"]):
        raise UserInputError("the evidence parts to merge score some images twice (shards of two runs in one folder?)")
    elsewhere = (skipped["reason"] == NOT_IN_DATASET) & np.isin(skipped["image_id"], images["image_id"])
    skipped = take_rows(skipped, np.flatnonzero(~elsewhere))
    _, first = np.unique(skipped["index"], return_index=True)  # each fold lists the others' images: once
    return Evidence(
        take_rows(images, np.argsort(images["position"], kind="stable")),
        take_rows(rows, np.argsort(rows["index"], kind="stable")),
        take_rows(skipped, first),  # np.unique's order: by index
        take_rows(detections, np.argsort(detections["position"], kind="stable")),
        parts[0].detected,
    )


# ------------------------------------------------------------------------------------------------------ shards
def save_shard(folder: Path, name: str, evidence: Evidence, meta: dict) -> Path:
    """Write `evidence` as the shard `folder`/`name` (a temp folder renamed into place: whole or absent)."""
    tables = {table: evidence.table(table) for table in TABLES}
    return save_tables(Path(folder) / name, tables, {**meta, "detected": evidence.detected})


def load_shards(folder: Path, fingerprint: str) -> list[Evidence]:
    """The shards in `folder` (none when it does not exist), memory-mapped, in name order; a shard whose
    fingerprint is not `fingerprint` (another run's, or other settings) is one clear error."""
    return [
        Evidence(*(tables.get(name, {}) for name in TABLES), bool(meta.get("detected")))
        for tables, meta in load_shard_folder(folder, fingerprint, "evidence")
    ]


def _rle(counts: bytes, size) -> dict:
    return {"size": [int(size[0]), int(size[1])], "counts": counts.decode()}


def _python(value):
    return value.item() if hasattr(value, "item") else value
