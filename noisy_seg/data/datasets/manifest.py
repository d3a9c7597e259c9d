"""Pseudo-label folders (manifest.json of tools/generate_pseudo_labels.py) as detectron2 semantic datasets.

    name = register_pseudo_label_dataset("output/pseudo/manifest.json")   # in a LazyConfig: before it exists
    dataloader.train.dataset.names = ["toy_shapes_cityscapes_sem_seg_train_strong10", name]

The manifest is read when the dataset is first used, so a config can name a folder a later step fills. Its label
paths must lie inside its folder (relative, no ".."): a manifest cannot make training read files elsewhere.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional, Union

from detectron2.data import DatasetCatalog, MetadataCatalog

from ...utils.errors import UserInputError
from ...utils.files import load_json

__all__ = ["load_pseudo_label_manifest", "register_pseudo_label_dataset"]

MANIFEST = "manifest.json"
_METADATA_KEYS = ("stuff_classes", "ignore_label", "evaluator_type")
_LABEL_KEYS = ("sem_seg_file_name", "confidence_file_name")  # stored relative to the manifest's folder
_registered: dict[str, Path] = {}  # name -> manifest path, for idempotent registration


def _manifest_path(path: Union[str, os.PathLike]) -> Path:
    """The manifest file of a folder or of a manifest path, absolute (stays valid if the working folder changes)."""
    path = Path(path)
    if path.suffix != ".json":
        path = path / MANIFEST
    return path.resolve()


def _default_name(manifest: Path) -> str:
    folder = re.sub(r"\W+", "_", manifest.parent.name).strip("_") or "labels"
    return folder if folder.startswith("pseudo") else f"pseudo_labels_{folder}"


def _read(manifest: Path, name: str) -> dict:
    if not manifest.is_file():
        raise UserInputError(
            f"dataset '{name}': {manifest} does not exist; write it first with "
            "tools/generate_pseudo_labels.py --output " + str(manifest.parent)
        )
    try:
        content = load_json(manifest)
    except ValueError as err:
        raise UserInputError(
            f"dataset '{name}': {manifest} is not valid JSON ({err}); write it again with "
            "tools/generate_pseudo_labels.py"
        ) from None
    if not isinstance(content, dict) or not isinstance(content.get("settings", {}), dict):
        raise UserInputError(
            f"dataset '{name}': {manifest} is not a pseudo-label manifest (a json object with "
            "settings, complete and records); write it with tools/generate_pseudo_labels.py"
        )
    if not content.get("complete", False):
        raise UserInputError(
            f"dataset '{name}': {manifest} belongs to an unfinished run; finish it with "
            "tools/generate_pseudo_labels.py ... --resume"
        )
    records = content.get("records")
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        raise UserInputError(
            f"dataset '{name}': {manifest} has no list of records (got {type(records).__name__}); "
            "write it again with tools/generate_pseudo_labels.py"
        )
    return content


def _metadata(content: dict) -> dict:
    """stuff_classes, ignore_label, evaluator_type of the source dataset when it is registered, else the
    manifest's class names and ignore label with a plain sem_seg evaluator."""
    settings = content.get("settings", {})
    defaults = {
        "stuff_classes": settings.get("class_names"),
        "ignore_label": settings.get("ignore_label", 255),
        "evaluator_type": "sem_seg",
    }
    source = settings.get("source_dataset")
    if source in DatasetCatalog.list():
        source_meta = MetadataCatalog.get(source)
        defaults.update({key: source_meta.get(key) for key in _METADATA_KEYS if source_meta.get(key, None) is not None})
    return {key: value for key, value in defaults.items() if value is not None}


def _set_metadata(name: str, content: dict) -> None:
    metadata = MetadataCatalog.get(name)
    missing = {key: value for key, value in _metadata(content).items() if not hasattr(metadata, key)}
    if missing:
        metadata.set(**missing)


def _records(content: dict, manifest: Path, name: str) -> list[dict]:
    """The manifest's records with their label paths joined to its folder; a path that leaves it is an error."""
    records = []
    for record in content["records"]:
        record = dict(record)
        for key in _LABEL_KEYS:
            if key in record:
                record[key] = str(manifest.parent / _inside_folder(record[key], key, manifest, name))
        records.append(record)
    return records


def _inside_folder(path, key: str, manifest: Path, name: str) -> str:
    if not isinstance(path, str) or not path or Path(path).is_absolute() or ".." in Path(path).parts:
        raise UserInputError(
            f"dataset '{name}': {manifest} gives {key} {path!r}, not a path inside its folder "
            f"(relative, without ..); a manifest may only name files next to it"
        )
    return path


def load_pseudo_label_manifest(manifest_path: Union[str, os.PathLike], name: str = "pseudo labels") -> list[dict]:
    """The records of a finished manifest, detectron2 semantic format, label paths made absolute."""
    manifest = _manifest_path(manifest_path)
    return _records(_read(manifest, name), manifest, name)


def register_pseudo_label_dataset(manifest_path: Union[str, os.PathLike], name: Optional[str] = None) -> str:
    """Register the pseudo labels of `manifest_path` (a manifest.json or its folder) as a detectron2 dataset and
    return its name: `name`, else the folder's name (prefixed "pseudo_labels_" unless it starts with "pseudo").
    Lazy: the manifest is read on first use. Metadata (stuff_classes, ignore_label, evaluator_type) comes from
    the source dataset the manifest names when that is registered, else from the manifest. Registering a path
    again returns its name; another path under a taken name is an error."""
    manifest = _manifest_path(manifest_path)
    name = name or _default_name(manifest)
    if name in _registered:
        if _registered[name] == manifest:
            return name
        raise UserInputError(
            f"dataset name '{name}' already holds the pseudo labels of {_registered[name]}; give "
            f"{manifest} another name (register_pseudo_label_dataset(path, name=...))"
        )
    if name in DatasetCatalog.list():
        raise UserInputError(
            f"dataset name '{name}' is already registered; give the pseudo labels of {manifest} "
            "another name (register_pseudo_label_dataset(path, name=...))"
        )

    def load() -> list[dict]:
        content = _read(manifest, name)
        _set_metadata(name, content)  # for a manifest written after registration
        return _records(content, manifest, name)

    DatasetCatalog.register(name, load)
    MetadataCatalog.get(name).set(manifest=str(manifest))
    _registered[name] = manifest
    if manifest.is_file():
        try:
            _set_metadata(name, _read(manifest, name))
        except UserInputError:
            pass  # unfinished: said when the dataset is used
    return name
