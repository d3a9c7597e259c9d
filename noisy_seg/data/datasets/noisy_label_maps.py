"""Noisy semantic label maps written offline (tools/make_noisy_dataset.py --dataset NAME --output DIR) as a detectron2
dataset: NAME's records, each with its label map replaced by the noisy one in DIR.

    name = register_noisy_label_maps("output/val_sembg20", like="toy_shapes_cityscapes_sem_seg_val")
    dataloader.test.dataset.names = name   # or L(register_noisy_label_maps)(folder=..., like=...) in a LazyConfig

The folder's manifest.json (written last by the tool: a folder without it is unfinished) is read on first use, so a
config can name a folder a later step fills. ``like`` must be the dataset the maps were written from (the manifest
names it; another one is an error): its images, classes and ignore label are used. The copy's evaluator type is
"sem_seg" (detectron2's SemSegEvaluator, which reads each record's label map): the source's Cityscapes evaluator would
read the clean label folder.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional, Union

from detectron2.data import DatasetCatalog, MetadataCatalog

from ...utils.errors import UserInputError
from ...utils.files import load_json

__all__ = ["register_noisy_label_maps"]

MANIFEST = "manifest.json"
_NOT_COPIED = ("name", "gt_dir", "evaluator_type")  # the source's label folder is not this copy's


def _default_name(folder: Path, like: str) -> str:
    return f"{like}_noisy_{folder.name}_{hashlib.sha1(str(folder).encode()).hexdigest()[:8]}"


def _manifest(folder: Path, name: str, like: str) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise UserInputError(f"dataset '{name}': {path} does not exist; write the noisy maps first with "
                             f"tools/make_noisy_dataset.py --dataset {like} --output {folder} --noise ...")
    try:
        manifest = load_json(path)
    except ValueError as err:
        raise UserInputError(f"dataset '{name}': {path} is not valid JSON ({err}); write the maps again") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("label_root"), str):
        raise UserInputError(f"dataset '{name}': {path} is not a noisy-label-map manifest (a json object with dataset "
                             f"and label_root); write it with tools/make_noisy_dataset.py --dataset {like}")
    if manifest.get("dataset") != like:
        raise UserInputError(f"dataset '{name}': {folder} holds noisy maps of {manifest.get('dataset')!r}, not of "
                             f"{like!r}")
    return manifest


def _records(folder: Path, manifest: dict, like: str, name: str) -> list[dict]:
    """`like`'s records with sem_seg_file_name pointing at the noisy map written for it (the tool keeps each map's
    path below the label files' common folder, `label_root`, so each one lies inside `folder`)."""
    label_root = Path(manifest["label_root"])
    records = []
    for record in DatasetCatalog.get(like):
        source = Path(record["sem_seg_file_name"]).resolve()
        if not source.is_relative_to(label_root):
            raise UserInputError(f"dataset '{name}': {record['sem_seg_file_name']} is not below the manifest's "
                                 f"label_root {label_root}; was {folder} written from another copy of {like}?")
        noisy = folder / source.relative_to(label_root).with_suffix(".png")
        if not noisy.is_file():
            raise UserInputError(f"dataset '{name}': no noisy map {noisy} for {record['sem_seg_file_name']}; was "
                                 f"{folder} written from another copy of {like}?")
        records.append({**record, "sem_seg_file_name": str(noisy)})
    return records


def register_noisy_label_maps(folder: Union[str, os.PathLike], like: str, name: Optional[str] = None) -> str:
    """Register the noisy label maps in `folder` (tools/make_noisy_dataset.py --dataset `like`) and return the
    dataset's name (`name`, else derived from `like` and the folder). Lazy: the manifest is read on first use.
    Registering a folder again under its name returns the name; another folder under a taken name is an error."""
    folder = Path(folder).resolve()
    if like not in DatasetCatalog.list():
        raise UserInputError(f"register_noisy_label_maps: like={like!r} is not a registered dataset; name the semantic "
                             "dataset the maps were written from")
    name = name or _default_name(folder, like)
    if name in DatasetCatalog.list():
        if MetadataCatalog.get(name).get("noisy_label_maps", None) != str(folder):
            raise UserInputError(f"register_noisy_label_maps: the name {name!r} is taken; pass another name")
        return name
    DatasetCatalog.register(name, lambda: _records(folder, _manifest(folder, name, like), like, name))
    metadata = {key: value for key, value in MetadataCatalog.get(like).as_dict().items() if key not in _NOT_COPIED}
    MetadataCatalog.get(name).set(**metadata, evaluator_type="sem_seg", noisy_label_maps=str(folder), copy_of=like)
    return name
