"""The one loop of a trained model over a dataset: detectron2's test loader (its mapper, `batch_size` images per
forward pass, `num_workers` loading processes, `InferenceSampler`'s order) under `torch.inference_mode`, with a
progress bar. Each workflow gives it the records, a mapper and what to compute on a batch:

    for inputs, output in predict_dataset(model, records, mapper, lambda model, batch: model(batch)):
        ...   # one (mapped input, output) pair per record, in the records' order

Under detectron2's `launch` (several processes, one per GPU, or gloo processes on a CPU) each process predicts its
share of the records (`InferenceSampler`: contiguous shards in rank order) and `gather` puts the processes' results
together in the records' order: the same results as one process.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import torch
from tqdm import tqdm

from detectron2.data import build_detection_test_loader
from detectron2.utils import comm

from ..utils.columns import SHARD_PREFIX

__all__ = ["first_process", "gather", "predict_dataset", "process_shard"]


def predict_dataset(
    model,
    records: Sequence[dict],
    mapper: Callable[[dict], dict],
    predict: Callable,
    *,
    batch_size: int = 1,
    num_workers: int = 0,
    progress: bool = True,
    desc: str = "predicting",
    total: int | None = None,
) -> Iterator[tuple[dict, object]]:
    """Yields (mapped input, output) for each of `records` in this process's share (all of them in one process), in
    order: `predict(model, batch)` returns one output per input of a batch. `total` (default len(records)): what the
    progress bar counts to, when `records` are what is left of a larger run; the first process shows it."""
    total = len(records) if total is None else total
    world = comm.get_world_size()
    progress = progress and comm.is_main_process()
    with tqdm(total=total, initial=total - len(records), desc=desc, unit="image", disable=not progress) as bar:
        if not records:
            return
        loader = build_detection_test_loader(
            list(records), mapper=mapper, batch_size=batch_size, num_workers=num_workers
        )
        for batch in loader:
            with torch.inference_mode():
                outputs = predict(model, batch)
            yield from zip(batch, outputs)
            bar.update(min(len(batch) * world, max(0, bar.total - bar.n)))  # the processes go at one pace


def gather(items: Sequence) -> list:
    """Every process's `items` in rank order, which is the records' order for results of `predict_dataset` (its
    shards are contiguous in that order); one collective that every process must reach. One process: `items`."""
    if comm.get_world_size() == 1:
        return list(items)
    return [item for part in comm.all_gather(list(items)) for item in part]


def first_process(compute: Callable):
    """`compute()` run by the first process only (e.g. opening the run folder), its value handed to every process;
    one collective that every process must reach. One process: `compute()`."""
    return comm.all_gather(compute() if comm.is_main_process() else None)[0]


def process_shard(number: int, fingerprint: str) -> tuple[str, dict]:
    """(folder name, meta) of this process's `number`-th shard of results (noisy_seg/utils/columns.py): each process
    of a launch names its own, so several write into one folder; the meta says who wrote it and for which run."""
    rank = f"-r{comm.get_rank()}" if comm.get_world_size() > 1 else ""
    meta = {"fingerprint": fingerprint, "rank": comm.get_rank(), "world_size": comm.get_world_size()}
    return f"{SHARD_PREFIX}{number:06d}{rank}", meta
