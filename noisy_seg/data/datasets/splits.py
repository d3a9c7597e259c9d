"""Strong / weak splits of a semantic data set, for training from few masks plus image-level tags (seed 003).

``register_strong_weak_split("toy_shapes_cityscapes_sem_seg_train", strong_percent=10)`` registers
``<source>_strong10`` (a seeded 10% of the images, with their label maps) and ``<source>_weak90`` (the rest). Weak
records carry ``image_tags``: the class indices present in their true label map, which is what a tag annotator
would give. They keep ``sem_seg_file_name`` so that pseudo labels can be scored against the truth; a recipe must
never train on the weak set directly (its configs train on the strong set and on pseudo labels only).
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np
from PIL import Image

from detectron2.data import DatasetCatalog, MetadataCatalog

__all__ = ["register_strong_weak_split", "split_names", "strong_weak_split"]


def strong_weak_split(records: Sequence[dict], strong_percent: float, seed: int = 0) -> Tuple[List[dict], List[dict]]:
    """(strong, weak): a seeded random `strong_percent`% of `records` (at least one) and the rest, each in the
    records' order. The choice depends on the seed and the image ids only, not on the order of `records`."""
    if not 0 < strong_percent < 100:
        raise ValueError(f"strong_percent must lie in (0, 100), got {strong_percent}")
    if not records:
        raise ValueError("cannot split an empty data set into strong and weak parts")
    keys = sorted(str(r.get("image_id", r["file_name"])) for r in records)
    chosen = np.random.default_rng(seed).permutation(len(keys))[: max(1, round(len(keys) * strong_percent / 100))]
    strong_keys = {keys[i] for i in chosen}
    strong = [r for r in records if str(r.get("image_id", r["file_name"])) in strong_keys]
    weak = [r for r in records if str(r.get("image_id", r["file_name"])) not in strong_keys]
    return strong, weak


def _with_true_tags(record: dict, ignore_label: int) -> dict:
    """The record with ``image_tags``: the classes of its label map (the ignore label left out)."""
    label_map = np.asarray(Image.open(record["sem_seg_file_name"]))
    present = np.flatnonzero(np.bincount(label_map.ravel(), minlength=256))
    return {**record, "image_tags": [int(c) for c in present if c != ignore_label]}


def split_names(source: str, strong_percent: float) -> Tuple[str, str]:
    """The names `register_strong_weak_split` gives: ``<source>_strong<P>``, ``<source>_weak<100-P>``."""
    return f"{source}_strong{strong_percent:g}", f"{source}_weak{100 - strong_percent:g}"


def register_strong_weak_split(source: str, strong_percent: float = 10, seed: int = 0) -> Tuple[str, str]:
    """Register the strong and weak parts of the registered semantic set `source` (read on first use); returns
    their names. Registering the same split again is a no-op."""
    strong_name, weak_name = split_names(source, strong_percent)
    if strong_name in DatasetCatalog.list():
        return strong_name, weak_name
    source_meta = MetadataCatalog.get(source)
    ignore_label = source_meta.get("ignore_label", 255)

    def part(index: int) -> List[dict]:
        parts = strong_weak_split(DatasetCatalog.get(source), strong_percent, seed)
        return parts[0] if index == 0 else [_with_true_tags(r, ignore_label) for r in parts[1]]

    for index, name in enumerate((strong_name, weak_name)):
        DatasetCatalog.register(name, lambda index=index: part(index))
        meta = {key: value for key, value in source_meta.as_dict().items() if key != "name"}
        MetadataCatalog.get(name).set(**meta, split_of=source, strong_percent=strong_percent, split_seed=seed)
    return strong_name, weak_name
