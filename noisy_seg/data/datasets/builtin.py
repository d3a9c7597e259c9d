"""Register the toy-shapes data sets with detectron2 (on import; files are generated on first use).

Names (with the default prefix "toy_shapes"):
  toy_shapes_{train,val}                         COCO layout, evaluator_type "coco"
  toy_shapes_cityscapes_{train,val}              Cityscapes instances, "cityscapes_instance"
  toy_shapes_cityscapes_sem_seg_{train,val}      Cityscapes labelTrainIds, "cityscapes_sem_seg"
  toy_shapes_cityscapes_sem_seg_train_{strong10,weak90}   a seeded 10% with label maps, the rest with tags (splits.py)
Data root: generated_data_dir()/toy_shapes, that is $NOISY_SEG_DATASETS/toy_shapes, else
${XDG_CACHE_HOME:-~/.cache}/noisy_seg/datasets/toy_shapes (data_dir.py).

Sets generated with other settings live beside it, in folders named after their settings
(``toy_shapes_seed1_train1000_val96_size128``, see ``custom_toy_folder``); every such folder found
there is registered on import with its folder name as the prefix (``toy_shapes_seed1_train1000_val96_size128_train``).
"""

from __future__ import annotations

import os
from pathlib import Path

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import load_coco_json
from detectron2.data.datasets.builtin_meta import _get_builtin_metadata
from detectron2.data.datasets.cityscapes import load_cityscapes_instances, load_cityscapes_semantic

from .toy_shapes import (
    CITYSCAPES_CLASS_NAMES,
    SETTING_KEYS,
    SPLIT_CODES,
    TOY_CLASSES,
    ToySettings,
    cityscapes_paths,
    coco_paths,
    ensure_toy_dataset,
    read_manifest,
)
from .data_dir import generated_data_dir
from .splits import register_strong_weak_split

__all__ = [
    "TOY_DATASET_NAMES",
    "custom_toy_folder",
    "dataset_names",
    "prepare_toy_dataset",
    "register_toy_datasets",
    "toy_data_root",
]

DEFAULT_PREFIX = "toy_shapes"
DEFAULT_SETTINGS = {key: getattr(ToySettings(), key) for key in SETTING_KEYS}  # seed 0, 512 train / 96 val, 128 px


def toy_data_root() -> Path:
    """Default toy data folder: generated_data_dir()/toy_shapes."""
    return generated_data_dir() / DEFAULT_PREFIX


def custom_toy_folder(seed: int, num_train: int, num_val: int, image_size: int) -> Path:
    """Where a set with these settings lives by default: the default root for the default settings, else a
    folder beside it named after the settings."""
    settings = {"seed": seed, "num_train": num_train, "num_val": num_val, "image_size": image_size}
    if settings == DEFAULT_SETTINGS:
        return toy_data_root()
    name = f"{DEFAULT_PREFIX}_seed{seed}_train{num_train}_val{num_val}_size{image_size}"
    return toy_data_root().parent / name


def register_generated_toy_sets(base: Path) -> list[str]:
    """Register every complete custom set in ``base`` (folders ``toy_shapes_*`` with a manifest) under its
    folder name; returns the registered names."""
    names = []
    if not base.is_dir():
        return names
    for folder in sorted(base.glob(f"{DEFAULT_PREFIX}_seed*")):
        manifest = read_manifest(folder)
        if manifest is None or f"{folder.name}_train" in DatasetCatalog.list():
            continue
        settings = {key: manifest[key] for key in DEFAULT_SETTINGS}
        names += register_toy_datasets(folder, prefix=folder.name, **settings)
    return names


def prepare_toy_dataset(root: str | os.PathLike | None = None, **settings) -> Path:
    """Generate the toy data set at ``root`` (default ``toy_data_root()``) unless it already exists
    with these ``settings`` (seed, num_train, num_val, image_size); returns its path. Call it before
    building an evaluator if no data loader has been built yet (COCOEvaluator reads json_file)."""
    return ensure_toy_dataset(toy_data_root() if root is None else root, **settings)


def dataset_names(prefix: str) -> list[str]:
    """The six names ``register_toy_datasets`` registers for ``prefix``."""
    return [f"{prefix}{kind}_{split}" for kind in ("", "_cityscapes", "_cityscapes_sem_seg") for split in SPLIT_CODES]


def register_toy_datasets(root: str | os.PathLike, prefix: str = DEFAULT_PREFIX, **settings) -> list[str]:
    """Register the COCO, Cityscapes-instance and Cityscapes-semantic views of one toy data set at
    ``root`` with ``settings`` (ToySettings' seed, num_train, num_val, image_size; both layouts); each loader
    generates the data first if needed. Returns the registered names."""
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"prefix must be a non-empty string, got {prefix!r}")
    taken = [name for name in dataset_names(prefix) if name in DatasetCatalog.list()]
    if taken:
        raise ValueError(f"datasets {taken} are already registered; pick another prefix")
    ToySettings(**settings, layout="both")  # bad settings fail here, not on first use
    root = Path(root).resolve()  # metadata paths stay valid if the working directory changes

    def prepared() -> None:
        ensure_toy_dataset(root, **settings)

    # Metadata set on toy data only; the checks in noisy_seg.data skip paths that appear on first use.
    extra = dict(
        generated_on_first_use=True,
        toy_classes=list(TOY_CLASSES),
        cityscapes_thing_classes=list(CITYSCAPES_CLASS_NAMES),
    )
    cityscapes_meta = _get_builtin_metadata("cityscapes")
    for split in SPLIT_CODES:
        json_file, image_root = coco_paths(root, split)
        image_dir, gt_dir = cityscapes_paths(root, split)

        name = f"{prefix}_{split}"

        def load_coco(json_file=json_file, image_root=image_root, name=name):
            prepared()
            return load_coco_json(str(json_file), str(image_root), name)

        DatasetCatalog.register(name, load_coco)
        MetadataCatalog.get(name).set(
            json_file=str(json_file),
            image_root=str(image_root),
            evaluator_type="coco",
            thing_classes=list(TOY_CLASSES),
            thing_dataset_id_to_contiguous_id={i + 1: i for i in range(len(TOY_CLASSES))},
            **extra,
        )

        name = f"{prefix}_cityscapes_{split}"

        def load_instances(image_dir=image_dir, gt_dir=gt_dir):
            prepared()
            return load_cityscapes_instances(str(image_dir), str(gt_dir), from_json=False, to_polygons=True)

        DatasetCatalog.register(name, load_instances)
        MetadataCatalog.get(name).set(
            image_dir=str(image_dir),
            gt_dir=str(gt_dir),
            evaluator_type="cityscapes_instance",
            **cityscapes_meta,
            **extra,
        )

        name = f"{prefix}_cityscapes_sem_seg_{split}"

        def load_semantic(image_dir=image_dir, gt_dir=gt_dir):
            prepared()
            return load_cityscapes_semantic(str(image_dir), str(gt_dir))

        DatasetCatalog.register(name, load_semantic)
        MetadataCatalog.get(name).set(
            image_dir=str(image_dir),
            gt_dir=str(gt_dir),
            evaluator_type="cityscapes_sem_seg",
            ignore_label=255,
            background_label=0,  # road, the maps' background: what sembg noise relabels to, offline as in the mapper
            **cityscapes_meta,
            **extra,
        )
    return dataset_names(prefix)


TOY_DATASET_NAMES = tuple(register_toy_datasets(toy_data_root()))
CUSTOM_TOY_DATASET_NAMES = tuple(register_generated_toy_sets(toy_data_root().parent))
# Few strong masks + image tags for the rest (pseudo-label training, projects/PseudoLabels): a seeded 10% split.
TOY_SEMANTIC_SPLIT_NAMES = register_strong_weak_split(f"{DEFAULT_PREFIX}_cityscapes_sem_seg_train", strong_percent=10)
