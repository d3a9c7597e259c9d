"""How much label noise a run actually trained on, as scalars in detectron2's EventStorage.

The noisy mappers run in data-loader workers and give each mapped dict its image's counts ("noise_counts":
annotations, or non-ignored pixels, and how many of them the noise changed). `NoiseMonitor.observe(loader)` adds
them up in the main process as the trainer draws each batch (plain ints: nothing on the device), and the hook
writes, after every step, the rates over all batches so far:

    noise/realized_rate     changed / total: annotations dropped, relabelled or moved (instance noise), or
                            pixels relabelled (semantic noise)
    noise/class_flip_rate   annotations given another class / annotations (instance noise only)
    noise/component_rate    components changed (relabelled, dropped, ignored, grown or shrunk) / components of the
                            maps (semantic component noise: the rate the noise name gives, realized)

The totals are part of the trainer's checkpoint, so a resumed run goes on counting. With clean labels the mappers
count nothing and nothing is written.

In a multi-process run (detectron2's `launch`, DDP) each process counts its own batches, and the rates are written at
the iterations the metric writers write (`period`, the trainer's log period; PeriodicWriter's rule): there the
processes' totals are summed, one collective per period that every process reaches, so the rates describe the whole
run's data, not one process's share. A checkpoint keeps the whole run's totals as of the last write (exact when the
checkpoint period is a multiple of the log period, as detectron2's defaults are); on resume the first process holds
them and the others start from zero, so the sum goes on from there.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator

from detectron2.engine import HookBase
from detectron2.utils import comm

from ..data.mappers import NOISE_COUNTS

__all__ = ["NoiseMonitor"]


class NoiseMonitor(HookBase):
    """Writes noise/realized_rate (and noise/class_flip_rate) of the batches the trainer drew so far."""

    def __init__(self, period: int = 1):
        self.period = period  # write at PeriodicWriter(period)'s iterations; 1: after every step
        self._totals: Counter = Counter()  # this process's counts (with the restored totals on the first process)
        self._written: Counter = Counter()  # every process's totals as of the last write

    def observe(self, loader: Iterable[list]) -> Iterator[list]:
        """The batches of `loader`, each one's "noise_counts" added to this hook's totals as it is drawn. The
        hook closes them when training ends (`after_train`)."""
        self._batches = self._observe(loader)
        return self._batches

    def after_train(self):
        """End the loader now: its worker processes stop while they answer, not at a later garbage collection
        (which waited seconds per leaked loader on the workers' shutdown)."""
        batches = getattr(self, "_batches", None)
        if batches is not None:
            batches.close()

    def _observe(self, loader: Iterable[list]) -> Iterator[list]:
        for batch in loader:
            for record in batch:
                counts = record.get(NOISE_COUNTS)
                if counts:
                    self._totals.update(counts)
            yield batch

    def _writes_at(self, iteration: int) -> bool:
        """PeriodicWriter's rule: after every `period`-th iteration and after the last one."""
        max_iter = getattr(self.trainer, "max_iter", None)
        return (iteration + 1) % self.period == 0 or (max_iter is not None and iteration == max_iter - 1)

    def after_step(self):
        storage = self.trainer.storage
        if not self._writes_at(storage.iter):
            return
        totals = self._totals
        if comm.get_world_size() > 1:  # every process is here at this iteration: one gather of a few ints
            totals = sum((Counter(counts) for counts in comm.all_gather(dict(self._totals))), Counter())
        self._written = totals
        if not totals["total"]:
            return
        storage.put_scalar("noise/realized_rate", totals["changed"] / totals["total"], smoothing_hint=False)
        if "class_flip" in totals:
            storage.put_scalar("noise/class_flip_rate", totals["class_flip"] / totals["total"], smoothing_hint=False)
        if totals["components"]:
            rate = totals["changed_components"] / totals["components"]
            storage.put_scalar("noise/component_rate", rate, smoothing_hint=False)

    def state_dict(self):
        """The whole run's totals: this process's in a single-process run, else every process's as last written
        (saved by the main process only, so no collective can happen here)."""
        return {"totals": dict(self._totals if comm.get_world_size() == 1 else self._written)}

    def load_state_dict(self, state_dict):
        restored = Counter(state_dict.get("totals", {}))
        self._totals = restored if comm.get_rank() == 0 else Counter()  # the sum over processes stays the run's
        self._written = Counter(restored)
