"""Noisy semantic label maps written offline (tools/make_noisy_dataset.py --dataset NAME --output DIR, which calls
`write_noisy_label_maps`) as a detectron2 dataset: NAME's records, each with its label map replaced by the noisy one in
DIR. The writer and the reader of the folder's format live here, together.

    name = register_noisy_label_maps("output/val_sembg20", like="toy_shapes_cityscapes_sem_seg_val")
    dataloader.test.dataset.names = name   # or L(register_noisy_label_maps)(folder=..., like=...) in a LazyConfig

The folder's manifest.json (written last by the tool: a folder without it is unfinished) is read on first use, so a
config can name a folder a later step fills. ``like`` must be the dataset the maps were written from (the manifest
names it; another one is an error): its images, classes and ignore label are used. The copy's evaluator type is
"sem_seg" (detectron2's SemSegEvaluator, which reads each record's label map): the source's Cityscapes evaluator would
read the clean label folder.

With component noise (SemanticNoise) the manifest records what changed: per map its changed components ({"class",
"op", "target", "box"}), and in all "components", "changed_components" and "changed_components_by_op", so a
label-error finder's proposals can be scored against the injected noise (`injected_components`).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path
from typing import Optional, Union

import numpy as np
from tqdm import tqdm

from detectron2.data import DatasetCatalog, MetadataCatalog

from ...noise import record_image_id
from ...utils.errors import UserInputError
from ...utils.files import load_json, remove_stale_temp_files, save_json_atomic, write_image

__all__ = ["MANIFEST", "register_noisy_label_maps", "write_noisy_label_maps"]

MANIFEST = "manifest.json"
_NOT_COPIED = ("name", "gt_dir", "evaluator_type")  # the source's label folder is not this copy's


def _default_name(folder: Path, like: str) -> str:
    return f"{like}_noisy_{folder.name}_{hashlib.sha1(str(folder).encode()).hexdigest()[:8]}"


def _manifest(folder: Path, name: str, like: str) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise UserInputError(
            f"dataset '{name}': {path} does not exist; write the noisy maps first with "
            f"tools/make_noisy_dataset.py --dataset {like} --output {folder} --noise ..."
        )
    try:
        manifest = load_json(path)
    except ValueError as err:
        raise UserInputError(f"dataset '{name}': {path} is not valid JSON ({err}); write the maps again") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("label_root"), str):
        raise UserInputError(
            f"dataset '{name}': {path} is not a noisy-label-map manifest (a json object with dataset "
            f"and label_root); write it with tools/make_noisy_dataset.py --dataset {like}"
        )
    if manifest.get("dataset") != like:
        raise UserInputError(
            f"dataset '{name}': {folder} holds noisy maps of {manifest.get('dataset')!r}, not of {like!r}"
        )
    return manifest


def _records(folder: Path, manifest: dict, like: str, name: str) -> list[dict]:
    """`like`'s records with sem_seg_file_name pointing at the noisy map written for it (the tool keeps each map's
    path below the label files' common folder, `label_root`, so each one lies inside `folder`)."""
    label_root = Path(manifest["label_root"])
    records = []
    for record in DatasetCatalog.get(like):
        source = Path(record["sem_seg_file_name"]).resolve()
        if not source.is_relative_to(label_root):
            raise UserInputError(
                f"dataset '{name}': {record['sem_seg_file_name']} is not below the manifest's "
                f"label_root {label_root}; was {folder} written from another copy of {like}?"
            )
        noisy = folder / source.relative_to(label_root).with_suffix(".png")
        if not noisy.is_file():
            raise UserInputError(
                f"dataset '{name}': no noisy map {noisy} for {record['sem_seg_file_name']}; was "
                f"{folder} written from another copy of {like}?"
            )
        records.append({**record, "sem_seg_file_name": str(noisy)})
    return records


def register_noisy_label_maps(folder: Union[str, os.PathLike], like: str, name: Optional[str] = None) -> str:
    """Register the noisy label maps in `folder` (tools/make_noisy_dataset.py --dataset `like`) and return the
    dataset's name (`name`, else derived from `like` and the folder). Lazy: the manifest is read on first use.
    Registering a folder again under its name returns the name; another folder under a taken name is an error."""
    folder = Path(folder).resolve()
    if like not in DatasetCatalog.list():
        raise UserInputError(
            f"register_noisy_label_maps: like={like!r} is not a registered dataset; name the semantic "
            "dataset the maps were written from"
        )
    name = name or _default_name(folder, like)
    if name in DatasetCatalog.list():
        if MetadataCatalog.get(name).get("noisy_label_maps", None) != str(folder):
            raise UserInputError(f"register_noisy_label_maps: the name {name!r} is taken; pass another name")
        return name
    DatasetCatalog.register(name, lambda: _records(folder, _manifest(folder, name, like), like, name))
    metadata = {key: value for key, value in MetadataCatalog.get(like).as_dict().items() if key not in _NOT_COPIED}
    MetadataCatalog.get(name).set(**metadata, evaluator_type="sem_seg", noisy_label_maps=str(folder), copy_of=like)
    return name


def injected_components(folder) -> dict:
    """{image key: its changed components (changed_components' dicts)} from a noisy-label-map folder's manifest;
    {} when the noise recorded none (a boundary model, or a folder written before components were recorded)."""
    manifest = load_json(Path(folder) / MANIFEST)
    return {entry["image_key"]: entry["components"] for entry in manifest["files"] if "components" in entry}


def changed_components(plan) -> list[dict]:
    """The components a SemanticNoise plan changed: {"class", "op", "target" (the new label; None for dilate /
    erode), "box" [x, y, w, h] in pixels of the clean map}."""
    chosen = [i for i, op in enumerate(plan.ops.tolist()) if op is not None]
    return [
        {
            "class": int(plan.class_ids[i]),
            "op": plan.ops[i],
            "target": int(plan.targets[i]) if plan.targets[i] >= 0 else None,
            "box": [int(v) for v in plan.boxes[i]],
        }
        for i in chosen
    ]


def write_noisy_label_maps(
    records: list,
    targets: list,
    noise,
    output: Union[str, os.PathLike],
    *,
    dataset: str,
    spec: dict,
    noise_name: str,
    num_classes: int,
    ignore_label: int,
    label_root: Union[str, os.PathLike],
    progress: bool = True,
) -> dict:
    """Write each record's label map, noised by `noise` under its `record_image_id` (as NoisySemSegDatasetMapper keys
    it), to its target (a path below `output`, the map's path below `label_root`), then the manifest this module reads
    (`spec` / `noise_name`: the noise as applied and as named); returns the manifest. ValueError names a label map
    that cannot be read or noised; OSError a file that cannot be written (nothing is left half-written)."""
    from ..mappers import read_label_map  # read as the mapper reads it (8 or 16 bits)

    output = Path(output).resolve()
    for folder in sorted({Path(target).parent for target in targets}):  # a killed run's temp files
        remove_stale_temp_files(folder)
    changed_pixels = pixels = 0
    by_op, components = Counter(), 0
    files = []
    for record, target in tqdm(list(zip(records, targets)), desc="noisy label maps", unit="map", disable=not progress):
        label_file = record["sem_seg_file_name"]
        try:
            clean = read_label_map(label_file)
            if hasattr(noise, "apply_with_plan"):  # component noise: which components changed, and how
                noisy, plan = noise.apply_with_plan(clean, record_image_id(record))
            else:
                noisy, plan = noise.apply(clean, record_image_id(record)), None
        except (ValueError, OSError) as err:
            raise ValueError(f"{label_file}: {err}") from None
        write_image(target, noisy)
        changed = int(np.count_nonzero(noisy != clean))
        changed_pixels, pixels = changed_pixels + changed, pixels + clean.size
        entry = {
            "label": str(Path(target).relative_to(output)),
            "image_key": record_image_id(record),
            "changed_fraction": changed / clean.size,
        }
        if plan is not None:
            entry["components"] = changed_components(plan)
            components += len(plan.keys)
            by_op.update(component["op"] for component in entry["components"])
        files.append(entry)
    manifest = {
        "dataset": dataset,
        "noise": spec,
        "noise_name": noise_name,
        "num_classes": num_classes,
        "ignore_label": ignore_label,
        "label_root": str(label_root),
        "num_maps": len(files),
        "pixels": pixels,
        "changed_pixels": changed_pixels,
        "changed_fraction": changed_pixels / max(pixels, 1),
        **(
            {
                "components": components,
                "changed_components": sum(by_op.values()),
                "changed_components_by_op": dict(sorted(by_op.items())),
            }
            if hasattr(noise, "apply_with_plan")
            else {}
        ),
        "files": files,
    }
    save_json_atomic(manifest, output / MANIFEST, indent=True)
    return manifest
