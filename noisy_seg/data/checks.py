"""Fail early, in one line, when a dataset's files are missing (instead of deep in a loader)."""

from __future__ import annotations

import os
from typing import Iterable

from detectron2.data import DatasetCatalog, MetadataCatalog

from ..utils.errors import UserInputError

# metadata fields detectron2's builtin registrations use for on-disk inputs
_PATH_FIELDS = ("json_file", "image_root", "image_dir", "gt_dir", "sem_seg_root", "panoptic_root")


def check_datasets_available(names: Iterable[str]) -> None:
    """Raise UserInputError naming the first registered dataset whose files are missing."""
    for name in names:
        if name not in DatasetCatalog.list():
            raise UserInputError(
                f"dataset '{name}' is not registered. Registered names include: "
                f"{', '.join(sorted(n for n in DatasetCatalog.list() if 'toy' in n or 'coco_2017' in n))}."
            )
        meta = MetadataCatalog.get(name)
        if meta.get("generated_on_first_use", False):
            continue
        for field in _PATH_FIELDS:
            path = meta.get(field, None)
            if path and not os.path.exists(path):
                hint = (
                    "it is a tool's output (a noisy, corrected or pseudo-labelled copy): run the tool that writes "
                    "it first"
                    if meta.get("copy_of", None)
                    else "Set DETECTRON2_DATASETS to the folder that "
                    "holds coco/ and cityscapes/ (see datasets/README.md)"
                )
                raise UserInputError(f"dataset '{name}': {field} {path} does not exist. {hint}.")
