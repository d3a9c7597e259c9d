"""Memorization curves: among the labels that noise changed, how often the model predicts the clean label vs the
noisy one. The second rising is the model memorizing the noise (the picture of Arpit et al. / Yang et al.).

One counter serves the box predictor (per RoI) and the semantic heads (per pixel). Counts stay on the device and
are written to the event storage every `period` iterations, so training steps never wait on a host sync.
"""
from __future__ import annotations

from typing import Optional

import torch

from detectron2.utils.events import get_event_storage

MEMORIZATION_LOG_PERIOD = 20  # detectron2's default writer period

__all__ = ["MEMORIZATION_LOG_PERIOD", "MemorizationCounter"]


class MemorizationCounter:
    """Accumulates [corrupted, predicted clean, predicted noisy, counted] on the device; writes
    memorization/pred_is_clean_label, memorization/pred_is_noisy_label and memorization/<fraction_name>
    (corrupted / counted) every `period` iterations."""

    def __init__(self, fraction_name: str, period: int = MEMORIZATION_LOG_PERIOD):
        self.fraction_name = fraction_name
        self.period = period
        self._counts: Optional[torch.Tensor] = None

    @torch.no_grad()
    def update(self, predicted: torch.Tensor, clean: torch.Tensor, noisy: torch.Tensor, corrupted: torch.Tensor,
               counted: torch.Tensor) -> None:
        """predicted / clean / noisy: labels of the same shape; corrupted: bool mask of the labels noise changed
        (that count); counted: how many elements count (a 0-d tensor)."""
        counts = torch.stack([corrupted.sum(), (corrupted & (predicted == clean)).sum(),
                              (corrupted & (predicted == noisy)).sum(), counted.reshape(())]).double()
        if self._counts is None or self._counts.device != counts.device:
            self._counts = torch.zeros_like(counts)
        self._counts += counts
        storage = get_event_storage()
        if storage.iter % self.period == 0:
            num_corrupted, pred_clean, pred_noisy, num_counted = self._counts.tolist()  # one sync per period
            self._counts.zero_()
            if num_corrupted:
                storage.put_scalar("memorization/pred_is_clean_label", pred_clean / num_corrupted)
                storage.put_scalar("memorization/pred_is_noisy_label", pred_noisy / num_corrupted)
                storage.put_scalar(f"memorization/{self.fraction_name}", num_corrupted / num_counted)
