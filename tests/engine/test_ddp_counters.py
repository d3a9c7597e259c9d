"""Counters that add up under DDP: with 2 processes (detectron2's launch on CPU: gloo), the realized noise rate
(NoiseMonitor) and the memorization shares (MemorizationCounter) written at the writer's iterations equal a single
process's over the same batches, not one process's half."""

import json
from types import SimpleNamespace

import pytest
import torch

from noisy_seg.engine.ddp import launch_processes
from detectron2.utils import comm
from detectron2.utils.events import EventStorage

from noisy_seg.engine.noise_monitor import NoiseMonitor
from noisy_seg.modeling.memorization import MemorizationCounter

PERIOD, ITERATIONS = 2, 4  # writes after iterations 1 and 3

# per process and iteration: one batch of noise counts (as the mappers attach them) ...
BATCHES = [
    [[{"noise_counts": {"total": 3 + i, "changed": i % 3, "class_flip": i % 2}}] for i in range(ITERATIONS)],
    [[{"noise_counts": {"total": 5, "changed": 4 - i % 2, "class_flip": 1}}] for i in range(ITERATIONS)],
]


def _labels(rank: int, iteration: int):
    """... and the box head's labels of its RoIs: predicted, clean, noisy (class 3 is background)."""
    generator = torch.Generator().manual_seed(10 * rank + iteration)
    clean = torch.randint(0, 3, (12 + rank,), generator=generator)
    noisy = torch.where(torch.rand(len(clean), generator=generator) < 0.5, (clean + 1) % 3, clean)
    predicted = torch.randint(0, 4, (len(clean),), generator=generator)
    return predicted, clean, noisy


def _run(batches_per_iteration, labels_per_iteration) -> dict:
    """The scalars the two counters write over these iterations, as a trainer with PeriodicWriter(PERIOD) drives
    them (the last write's values)."""
    monitor = NoiseMonitor(PERIOD)
    counter = MemorizationCounter("noisy_fg_fraction", background=3, period=PERIOD)
    counter.set_period(PERIOD, ITERATIONS)
    with EventStorage(0) as storage:
        monitor.trainer = SimpleNamespace(storage=storage, max_iter=ITERATIONS)
        for iteration, _ in enumerate(monitor.observe(batches_per_iteration)):
            storage.iter = iteration
            predicted, clean, noisy = labels_per_iteration[iteration]
            counter.update(predicted, clean, noisy, clean != noisy, torch.tensor(len(clean)))
            monitor.after_step()
        return {key: value for key, (value, _) in storage.latest().items()}


def _worker(output: str):
    rank = comm.get_rank()
    scalars = _run(BATCHES[rank], [_labels(rank, i) for i in range(ITERATIONS)])
    if rank == 0:
        with open(output, "w") as file:
            json.dump(scalars, file)


@pytest.mark.slow
def test_two_processes_write_the_figures_of_one_process_over_all_batches(tmp_path):
    output = tmp_path / "ddp.json"
    launch_processes(_worker, 2, dist_url="auto", args=(str(output),))
    distributed = json.loads(output.read_text())

    # one process drawing both processes' batches at each iteration
    together = [BATCHES[0][i] + BATCHES[1][i] for i in range(ITERATIONS)]
    labels = [[torch.cat(parts) for parts in zip(_labels(0, i), _labels(1, i))] for i in range(ITERATIONS)]
    single = _run(together, labels)
    half = _run(BATCHES[0], [_labels(0, i) for i in range(ITERATIONS)])  # what rank 0 wrote before: its share

    assert set(distributed) == set(single) >= {"noise/realized_rate", "memorization/pred_is_clean_label"}
    for key, value in single.items():
        assert distributed[key] == pytest.approx(value), key
    assert distributed["noise/realized_rate"] != pytest.approx(half["noise/realized_rate"])  # the check can fail
