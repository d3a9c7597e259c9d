"""What the benchmark scripts (benchmarks/) share: the timing scheme (alternate rounds between variants so that the
machine's drift hits all of them alike; each variant's median and its ratio to the first, the baseline), the time of
a detectron2 model's training iteration. A process's memory: noisy_seg.utils.memory (no torch to import).
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Callable

import torch

from detectron2.utils.events import EventStorage

__all__ = ["alternating_medians", "print_ratios", "time_training_iters", "work_clock"]


def alternating_medians(variants: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """`variants` name -> a function timing one round (seconds); returns name -> median over rounds.
    The order is shuffled every round (seeded): in a fixed order the variant after the baseline inherits its
    warm allocator and caches, which made F.cross_entropy look 30% faster than the same call one slot later."""
    times = {name: [] for name in variants}
    order = list(variants)
    shuffle = random.Random(0).shuffle
    for _ in range(rounds):
        shuffle(order)
        for name in order:
            times[name].append(variants[name]())
    return {name: statistics.median(ts) for name, ts in times.items()}


def print_ratios(medians: dict[str, float], unit: str, scale: float = 1e3, width: int = 32) -> None:
    """One line per variant: median (seconds * scale, in `unit`) and ratio to the first variant."""
    base = next(iter(medians.values()))
    for name, med in medians.items():
        print(f"  {name:{width}s} {med * scale:8.3f} {unit}   ratio vs stock {med / base:.3f}")


def work_clock(device: str = "cpu") -> Callable[[], float]:
    """The clock to time torch work with: on the CPU with one torch thread, this thread's CPU time
    (`time.thread_time`: the forward and backward run in the calling thread then, and other processes sharing the
    cores barely move it, where they move wall time by tens of percent); else wall time (`time.perf_counter`)."""
    return time.thread_time if device == "cpu" and torch.get_num_threads() == 1 else time.perf_counter


def time_training_iters(model, optim, batch, iters: int, reseed: bool = False) -> float:
    """Median seconds of `iters` training iterations (forward + backward + optimizer step) of a detectron2 model
    on one batch, by `work_clock`; `reseed`: torch.manual_seed(i) before iteration i (the same proposal sampling for
    every variant)."""
    clock = work_clock(next(model.parameters()).device.type)
    times = []
    with EventStorage(0):
        for i in range(iters):
            if reseed:
                torch.manual_seed(i)
            start = clock()
            losses = model(batch)
            optim.zero_grad()
            sum(losses.values()).backward()
            optim.step()
            times.append(clock() - start)
    return statistics.median(times)
