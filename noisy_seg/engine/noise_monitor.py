"""How much label noise a run actually trained on, as scalars in detectron2's EventStorage.

The noisy mappers run in data-loader workers and give each mapped dict its image's counts ("noise_counts":
annotations, or non-ignored pixels, and how many of them the noise changed). `NoiseMonitor.observe(loader)` adds
them up in the main process as the trainer draws each batch (plain ints: nothing on the device), and the hook
writes, after every step, the rates over all batches so far:

    noise/realized_rate     changed / total: annotations dropped, relabelled or moved (instance noise), or
                            pixels relabelled (semantic noise)
    noise/class_flip_rate   annotations given another class / annotations (instance noise only)

The totals are part of the trainer's checkpoint, so a resumed run goes on counting. With clean labels the mappers
count nothing and nothing is written. In a multi-process run each process counts its own batches.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator

from detectron2.engine import HookBase

from ..data.mappers import NOISE_COUNTS

__all__ = ["NoiseMonitor"]


class NoiseMonitor(HookBase):
    """Writes noise/realized_rate (and noise/class_flip_rate) of the batches the trainer drew so far."""

    def __init__(self):
        self._totals: Counter = Counter()

    def observe(self, loader: Iterable[list]) -> Iterator[list]:
        """The batches of `loader`, each one's "noise_counts" added to this hook's totals as it is drawn."""
        for batch in loader:
            for record in batch:
                counts = record.get(NOISE_COUNTS)
                if counts:
                    self._totals.update(counts)
            yield batch

    def after_step(self):
        total = self._totals["total"]
        if not total:
            return
        storage = self.trainer.storage
        storage.put_scalar("noise/realized_rate", self._totals["changed"] / total, smoothing_hint=False)
        if "class_flip" in self._totals:
            storage.put_scalar("noise/class_flip_rate", self._totals["class_flip"] / total, smoothing_hint=False)

    def state_dict(self):
        return {"totals": dict(self._totals)}

    def load_state_dict(self, state_dict):
        self._totals = Counter(state_dict.get("totals", {}))
