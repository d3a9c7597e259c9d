"""Memorization curves: among the labels that noise changed, how often the model predicts the clean label, the noisy
one, or neither. The second rising is the model memorizing the noise (the picture of Arpit et al. / Yang et al.);
the third keeps a classifier that calls everything background from reading as "no memorization".

One counter serves the box predictor (per RoI) and the semantic heads (per pixel); the mask head's counter follows the
IoU of its masks with the clean and the noisy mask of RoIs whose mask the noise changed. Counts stay on the device and
are written to the event storage at the iterations detectron2's PeriodicWriter writes (`set_memorization_log_period`
gives the trainer's period), so each row of metrics.json holds the counts of the iterations since the previous row
and training steps wait on one host sync per period only. In a multi-process run (DDP) the processes' counts are
summed there (one all-reduce per period, which every process reaches: the write iterations depend on the iteration
only), so the shares describe the whole batch, not one process's part.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.distributed as dist

from detectron2.utils.events import get_event_storage

MEMORIZATION_LOG_PERIOD = 20  # detectron2's DefaultTrainer writer period (its hooks.PeriodicWriter(period=20))

__all__ = [
    "MEMORIZATION_LOG_PERIOD",
    "MaskMemorizationCounter",
    "MemorizationCounter",
    "PeriodicCounts",
    "set_memorization_log_period",
]


class PeriodicCounts:
    """Counts summed on the device between writes, written at the iterations detectron2's PeriodicWriter writes
    (one host read and, under DDP, one all-reduce per period). Subclasses say what the counts mean (`_write`)."""

    def __init__(self, period: int = MEMORIZATION_LOG_PERIOD):
        self.period, self.max_iter = period, None
        self._counts: Optional[torch.Tensor] = None

    def set_period(self, period: int, max_iter: Optional[int] = None) -> None:
        """Write at the iterations `hooks.PeriodicWriter(period)` of a trainer stopping at `max_iter` writes."""
        self.period, self.max_iter = period, max_iter

    def writes_at(self, iteration: int) -> bool:
        """PeriodicWriter's rule: after every `period`-th iteration and after the last one."""
        return (iteration + 1) % self.period == 0 or (self.max_iter is not None and iteration == self.max_iter - 1)

    def _add(self, counts: torch.Tensor) -> None:
        counts = counts.double()
        if self._counts is None or self._counts.device != counts.device:
            self._counts = torch.zeros_like(counts)
        self._counts += counts
        storage = get_event_storage()
        if self.writes_at(storage.iter):
            totals = self._counts
            if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
                totals = totals.clone()
                dist.all_reduce(totals)  # every process writes at this iteration
            values = totals.tolist()  # one sync
            self._counts.zero_()
            self._write(storage, values)

    def _write(self, storage, counts: list) -> None:
        raise NotImplementedError


class MemorizationCounter(PeriodicCounts):
    """Accumulates [corrupted, predicted clean, predicted noisy, predicted background, counted] on the device; at
    each writer iteration writes, over the corrupted labels since the last write, the shares
    memorization/pred_is_clean_label, pred_is_noisy_label and pred_is_other_label (neither; the three sum to 1),
    memorization/pred_is_background (part of "other") when the counter has a `background` class, and
    memorization/<fraction_name> (corrupted / counted)."""

    def __init__(self, fraction_name: str, background: Optional[int] = None, period: int = MEMORIZATION_LOG_PERIOD):
        super().__init__(period)
        self.fraction_name = fraction_name
        self.background = background

    @torch.no_grad()
    def update(
        self,
        predicted: torch.Tensor,
        clean: torch.Tensor,
        noisy: torch.Tensor,
        corrupted: torch.Tensor,
        counted: torch.Tensor,
    ) -> None:
        """predicted / clean / noisy: labels of the same shape; corrupted: bool mask of the labels noise changed
        (that count); counted: how many elements count (a 0-d tensor)."""
        background = (
            corrupted.new_zeros((), dtype=torch.long)
            if self.background is None
            else (corrupted & (predicted == self.background)).sum()
        )
        self._add(
            torch.stack(
                [
                    corrupted.sum(),
                    (corrupted & (predicted == clean)).sum(),
                    (corrupted & (predicted == noisy)).sum(),
                    background,
                    counted.reshape(()),
                ]
            )
        )

    def _write(self, storage, counts: list) -> None:
        num_corrupted, pred_clean, pred_noisy, pred_background, num_counted = counts
        if not num_corrupted:
            return
        pred_other = num_corrupted - pred_clean - pred_noisy  # a corrupted label's clean and noisy labels differ
        shares = {
            "pred_is_clean_label": pred_clean,
            "pred_is_noisy_label": pred_noisy,
            "pred_is_other_label": pred_other,
        }
        if self.background is not None:
            shares["pred_is_background"] = pred_background
        # smoothing_hint=False: each value already sums a whole period; the writers' median over 20 writes would
        # blur the curve over 20 periods
        for name, count in shares.items():
            storage.put_scalar(f"memorization/{name}", count / num_corrupted, smoothing_hint=False)
        storage.put_scalar(f"memorization/{self.fraction_name}", num_corrupted / num_counted, smoothing_hint=False)


class MaskMemorizationCounter(PeriodicCounts):
    """The mask head's curve: over the RoIs whose annotation's mask the noise moved or reshaped, the mean IoU of the
    predicted RoI mask with the clean mask and with the noisy one (memorization/mask_iou_with_clean_mask,
    mask_iou_with_noisy_mask; memorizing the noise is the second rising above the first), the mean IoU with the
    given mask of the RoIs the noise left alone (mask_iou_uncorrupted), and the corrupted RoIs' share
    (mask_noisy_fraction). IoUs in the RoI's M x M grid, the prediction thresholded at logit 0.

    The clean masks are cropped for every foreground RoI, which costs about what the mask loss's own crop costs, so
    the counter samples: it counts the iterations `samples_at` says (every `sample_every`-th, the writer's among
    them), and each logged value averages those of its period."""

    def __init__(self, period: int = MEMORIZATION_LOG_PERIOD, sample_every: int = 5):
        super().__init__(period)
        self.sample_every = sample_every

    def samples_at(self, iteration: int) -> bool:
        return (iteration + 1) % self.sample_every == 0 or self.writes_at(iteration)

    @torch.no_grad()
    def update(
        self, predicted: torch.Tensor, clean: torch.Tensor, noisy: torch.Tensor, corrupted: torch.Tensor
    ) -> None:
        """predicted / clean / noisy: (R, M, M) bool masks; corrupted: (R,) bool."""
        iou_clean, iou_noisy = _mask_iou(predicted, clean), _mask_iou(predicted, noisy)
        kept = ~corrupted
        self._add(
            torch.stack(
                [
                    corrupted.sum(),
                    (iou_clean * corrupted).sum(),
                    (iou_noisy * corrupted).sum(),
                    kept.sum(),
                    (iou_noisy * kept).sum(),
                ]
            )
        )

    def _write(self, storage, counts: list) -> None:
        num_corrupted, iou_clean, iou_noisy, num_kept, iou_kept = counts
        if num_kept:
            storage.put_scalar("memorization/mask_iou_uncorrupted", iou_kept / num_kept, smoothing_hint=False)
        if num_corrupted + num_kept:
            fraction = num_corrupted / (num_corrupted + num_kept)
            storage.put_scalar("memorization/mask_noisy_fraction", fraction, smoothing_hint=False)
        if num_corrupted:
            storage.put_scalar("memorization/mask_iou_with_clean_mask", iou_clean / num_corrupted, smoothing_hint=False)
            storage.put_scalar("memorization/mask_iou_with_noisy_mask", iou_noisy / num_corrupted, smoothing_hint=False)


def _mask_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(R,) IoU of (R, M, M) bool masks; 0 where both are empty."""
    intersection = (a & b).flatten(1).sum(1)
    union = (a | b).flatten(1).sum(1)
    return intersection.double() / union.clamp_min(1).double()


def set_memorization_log_period(model: torch.nn.Module, period: int, max_iter: Optional[int] = None) -> None:
    """Make every memorization counter of `model` write with the trainer's metric writers: at the iterations
    `hooks.PeriodicWriter(period)` writes for a run that stops at `max_iter` (its scalars then land in the writer's
    row, in order)."""
    for module in model.modules():
        counter = getattr(module, "memorization", None)
        if isinstance(counter, PeriodicCounts):
            counter.set_period(period, max_iter)
