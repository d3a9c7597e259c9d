"""A trained semantic model's view of a dataset's label maps (Rottmann & Reese, seed 002): its softmax on every image
beside the image's given label map (`predict_softmax`), and the connected components of its prediction with their
metrics (`predict_components`, what label_errors.semantic ranks). The detectron2 side of label_errors/semantic/,
as evidence.py is for instances; tools/find_semantic_label_errors.py and the evidence benchmark read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np
import torch

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.utils import comm

from ..data.checks import check_datasets_available
from ..evaluation.sem_seg import load_label_map
from ..inference.loop import gather, predict_dataset, process_shard
from ..inference.semantic import RECORD_INDEX, multiscale_logits, semantic_inputs, semantic_mapper
from ..label_errors.semantic import component_metrics
from ..label_errors.semantic.table import (
    ComponentTable,
    load_component_shards,
    merge_tables,
    save_component_shard,
)
from ..utils.errors import UserInputError

__all__ = ["labelled_semantic_dataset", "predict_components", "predict_softmax"]

IMAGES_PER_SHARD = 50  # component shards are written this often: what a crash can cost


def labelled_semantic_dataset(name: str) -> tuple[list, list, int]:
    """(records, class names, ignore label) of a registered semantic dataset whose records all have label maps (at
    least 2 images: the meta classifier fits on one half and searches the other)."""
    check_datasets_available([name])
    records = DatasetCatalog.get(name)
    metadata = MetadataCatalog.get(name)
    class_names = list(metadata.get("stuff_classes", None) or [])
    if not class_names:
        raise UserInputError(f"dataset '{name}' has no stuff_classes in its metadata: is it a semantic dataset?")
    unlabelled = [r.get("file_name", "?") for r in records if not r.get("sem_seg_file_name")]
    if unlabelled:
        raise UserInputError(
            f"dataset '{name}': {len(unlabelled)} of {len(records)} images have no label map "
            f"(sem_seg_file_name), e.g. {unlabelled[0]}; there is no label to check"
        )
    if len(records) < 2:
        raise UserInputError(
            f"dataset '{name}' has {len(records)} image(s); the meta classifier needs at least 2 "
            "(one half to fit on, one to search)"
        )
    return records, class_names, int(metadata.get("ignore_label", 255))


def _softmax(model, batch) -> list[np.ndarray]:
    return [torch.softmax(logits, dim=0).cpu().numpy() for logits in multiscale_logits(model, batch)]


def predict_softmax(
    model,
    records: Sequence[dict],
    *,
    augmentations: Sequence = (),
    image_format: str = "BGR",
    batch_size: int = 1,
    num_workers: int = 0,
    progress: bool = True,
    desc: str = "scoring components",
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yields (record index, softmax (K, H, W) float32, given label map (H, W) int64) of each record, in order: the
    model's softmax on the test mapper's input (`inference.predict_dataset`) and the record's label map (read at full
    resolution, where detectron2's semantic models return their output). The model must fit the dataset's classes
    (`inference.check_fits`, checked by the caller)."""
    predictions = predict_dataset(
        model,
        semantic_inputs(records),
        semantic_mapper(augmentations, image_format),
        _softmax,
        batch_size=batch_size,
        num_workers=num_workers,
        progress=progress,
        desc=desc,
    )
    for inputs, probs in predictions:
        record = records[inputs[RECORD_INDEX]]
        given = load_label_map(record["sem_seg_file_name"]).astype(np.int64)
        if given.shape != probs.shape[1:]:
            raise UserInputError(
                f"{record['sem_seg_file_name']}: a label map of shape {given.shape}, the model's output "
                f"{probs.shape[1]}x{probs.shape[2]} (the record's height x width); label maps must be single-channel, "
                "at image resolution"
            )
        yield inputs[RECORD_INDEX], probs, given


def predict_components(
    model,
    records: Sequence[dict],
    *,
    min_size: int,
    shard_dir: Optional[Path] = None,
    fingerprint: str = "",
    **options,
) -> ComponentTable:
    """The `component_metrics` of each record on the model's softmax against its label map (`predict_softmax`, which
    takes the `options`), as a `ComponentTable` (label_errors/semantic/table.py): the features and candidate masks
    (RLE), no pixel map kept. With `shard_dir`, each process writes a shard every IMAGES_PER_SHARD images and continues
    from the shards there written with the same `fingerprint` (a resumed run); the returned table is then the shards,
    memory-mapped. Under detectron2's `launch` each process predicts its share and every process returns the table of
    every record."""
    loaded = load_component_shards(shard_dir, fingerprint) if shard_dir is not None else []
    comm.synchronize()  # every process has read the same shards before any writes a new one
    done = {int(i) for shard in loaded for i in shard.images["index"]}
    todo = [i for i in range(len(records)) if i not in done]
    pending, new = [], []
    first_number = len(loaded)
    for index, probs, given in predict_softmax(model, [records[i] for i in todo], **options):
        pending.append(ComponentTable.of([component_metrics(probs, given, min_size=min_size)], [todo[index]]))
        if len(pending) >= IMAGES_PER_SHARD:
            new.append(_save(shard_dir, first_number + len(new), merge_tables(pending), fingerprint))
            pending = []
    if pending:
        new.append(_save(shard_dir, first_number + len(new), merge_tables(pending), fingerprint))
    if shard_dir is None:
        return merge_tables(gather(new) or [ComponentTable.empty()])
    comm.synchronize()  # every process's shards are on disk
    parts = load_component_shards(shard_dir, fingerprint)
    comm.synchronize()  # every process has opened them
    return merge_tables(parts or [ComponentTable.empty()])


def _save(shard_dir: Optional[Path], number: int, table: ComponentTable, fingerprint: str) -> ComponentTable:
    if shard_dir is not None:
        name, meta = process_shard(number, fingerprint)
        save_component_shard(shard_dir, name, table, meta)
    return table
