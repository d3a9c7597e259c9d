"""Register a COCO-format json written by a tool (a noisy copy from tools/make_noisy_dataset.py, a corrected copy
from tools/generate_pseudo_labels.py --task instance) as a detectron2 dataset, from a LazyConfig:

    dataloader.train.dataset.names = L(register_coco_file)(json_file="out/train_sym40.json", like="toy_shapes_train")

The name is derived from the path unless given; the json is read on first use, so a config loads before the file
exists. ``like`` names the registered set the file is a copy of: its image root and metadata (classes, evaluator)
are used, so the copy evaluates and maps ids exactly like the original. An annotation's "loss_weight" (the
weighted.json of tools/find_label_errors.py) is kept in the records, for NoisyDatasetMapper.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional, Sequence

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import load_coco_json

from ...utils.errors import UserInputError
from ...utils.registration import register_user_datasets

__all__ = ["LOSS_WEIGHT", "check_loss_weights", "register_coco_file", "register_coco_view"]

LOSS_WEIGHT = "loss_weight"  # an annotation's optional weight of its loss (tools/find_label_errors.py weighted.json)


def _default_name(json_file: Path) -> str:
    digest = hashlib.sha1(str(json_file).encode()).hexdigest()[:8]
    return f"coco_file_{json_file.stem}_{digest}"


def register_coco_file(json_file: str, like: str, image_root: Optional[str] = None, name: Optional[str] = None) -> str:
    """Register `json_file` (images under `image_root`, default: `like`'s) and return its dataset name.
    Registering the same file under the same name again is a no-op; another file under a taken name is an error."""
    path = Path(json_file).resolve()
    if like not in DatasetCatalog.list():
        raise ValueError(
            f"register_coco_file: like={like!r} is not a registered dataset; name the set "
            f"{path.name} is a copy of (e.g. toy_shapes_train)"
        )
    source = MetadataCatalog.get(like)
    name = name or _default_name(path)
    if name in DatasetCatalog.list():
        registered = MetadataCatalog.get(name).get("json_file")
        if registered != str(path):
            raise ValueError(f"register_coco_file: the name {name!r} is taken by {registered}; pass another name")
        return name
    image_root = str(Path(image_root).resolve()) if image_root else source.image_root
    DatasetCatalog.register(name, lambda: _load_copy(path, image_root, name))
    # not the source's own files, nor its "generated on first use" (the copy must exist: checked at training start)
    own = ("name", "json_file", "image_root", "generated_on_first_use")
    meta = {key: value for key, value in source.as_dict().items() if key not in own}
    MetadataCatalog.get(name).set(**meta, json_file=str(path), image_root=image_root, copy_of=like)
    return name


def register_coco_view(
    json_file: str,
    like: str,
    image_ids: str,
    image_root: Optional[str] = None,
    name: Optional[str] = None,
    register: Sequence[str] = (),
) -> str:
    """Register the images of `json_file` whose ids the json file `image_ids` lists (a filtered view: no copy of the
    json; K-fold's folds) and return the view's name. Its metadata is `like`'s without a json_file, so detectron2's
    COCOEvaluator evaluates the view's images only: it converts the view's records to COCO format in its output_dir
    (which must then be set, e.g. dataloader.evaluator.output_dir). `register`: "MODULE:FUNCTION"s that register
    `like` first (a user's own dataset, in the fresh process of a fold training; utils.registration)."""
    register_user_datasets(list(register))
    path, ids_path = Path(json_file).resolve(), Path(image_ids).resolve()
    if like not in DatasetCatalog.list():
        raise ValueError(f"register_coco_view: like={like!r} is not a registered dataset; name the set {path.name} is")
    digest = hashlib.sha1(f"{path}\n{ids_path}".encode()).hexdigest()[:8]
    name = name or f"coco_view_{path.stem}_{ids_path.stem}_{digest}"
    if name in DatasetCatalog.list():
        registered = (MetadataCatalog.get(name).get("view_of", None), MetadataCatalog.get(name).get("image_ids", None))
        if registered != (str(path), str(ids_path)):
            raise ValueError(f"register_coco_view: the name {name!r} is taken by {registered}; pass another name")
        return name
    source = MetadataCatalog.get(like)
    image_root = str(Path(image_root).resolve()) if image_root else source.image_root
    DatasetCatalog.register(name, lambda: _load_view(path, ids_path, image_root, name))
    own = ("name", "json_file", "image_root", "generated_on_first_use", "evaluator_type_json")
    meta = {key: value for key, value in source.as_dict().items() if key not in own}
    MetadataCatalog.get(name).set(
        **meta, image_root=image_root, copy_of=like, view_of=str(path), image_ids=str(ids_path)
    )
    return name


def _load_view(path: Path, ids_path: Path, image_root: str, name: str) -> list:
    from ...utils.files import load_json

    wanted = set(load_json(ids_path))
    records = [record for record in _load_copy(path, image_root, name) if record["image_id"] in wanted]
    if len(records) != len(wanted):
        raise UserInputError(
            f"{ids_path} lists {len(wanted)} image ids but {path} has {len(records)} of them; the view must name "
            "images of its json"
        )
    return records


def _load_copy(path: Path, image_root: str, name: str) -> list:
    """The records of a registered copy; categories other than its `like`'s (which detectron2's metadata refuses
    with an assertion) as one UserInputError. An annotation's optional "loss_weight" (tools/find_label_errors.py's
    weighted.json) reaches the mapper."""
    try:
        return load_coco_json(str(path), image_root, name, extra_annotation_keys=[LOSS_WEIGHT])
    except AssertionError as err:
        if "cannot be set to a different value" not in str(err):
            raise
    # read only on this failure path: the copy's categories, against those its metadata took from `like`
    from ...utils.files import load_json

    metadata = MetadataCatalog.get(name)
    id_map = metadata.get("thing_dataset_id_to_contiguous_id", None) or {}
    like_ids = sorted(id_map, key=id_map.get) or [None] * len(metadata.thing_classes)
    expected = list(zip(like_ids, metadata.thing_classes))  # (id, name) in contiguous order
    given = sorted((c.get("id"), c.get("name")) for c in load_json(path).get("categories", []))
    differ = [i for i, (mine, theirs) in enumerate(zip(given, expected)) if mine != theirs]
    first = differ[0] if differ else min(len(given), len(expected))
    raise UserInputError(
        f"{path} is registered like {metadata.copy_of}, but its categories differ from {metadata.copy_of}'s "
        f"({len(given)} vs {len(expected)}; first: {_category(given, first)} vs {_category(expected, first)}): a copy "
        "keeps the categories (ids and names) of the dataset it is like; name the dataset it is a copy of"
    ) from None


def _category(categories: list, index: int) -> str:
    if index >= len(categories):
        return "none"
    category_id, category_name = categories[index]
    return f"{category_name!r}" + (f" (id {category_id})" if category_id is not None else "")


def check_loss_weights(names, key: str) -> None:
    """Training with per-annotation loss weights needs annotations that carry them, each a number in [0, 1]: one
    UserInputError before training (the mapper trusts them) where a weight is bad, or where no annotation of the
    registered datasets `names` (`key`: the config key naming them) has a "loss_weight" (else the first training
    step would stop). Loads the records once."""
    registered = [name for name in names if name in DatasetCatalog.list()]  # others: reported when the run starts
    weighted = False
    for name in registered:
        for record in DatasetCatalog.get(name):
            for ann in record.get("annotations", ()):
                if LOSS_WEIGHT not in ann:
                    continue
                weight, weighted = ann[LOSS_WEIGHT], True
                if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
                    raise UserInputError(
                        f"dataset '{name}': an annotation of {record.get('file_name', 'an image')} "
                        f"has loss_weight {weight!r}; it must be a number in [0, 1]"
                    )
    if registered and not weighted:
        raise UserInputError(
            f"per-annotation loss weights are on but no annotation of {key}={registered} has a "
            f'"{LOSS_WEIGHT}": train on the weighted.json of tools/find_label_errors.py, '
            "registered with register_coco_file(json_file, like=...), or turn the option off"
        )
