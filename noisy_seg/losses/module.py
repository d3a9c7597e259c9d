"""`FunctionLoss`: the one nn.Module form of every loss in this package that is a plain function of
(logits, targets), so each registered class only declares its options."""
from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

import torch
from torch import nn


def _frozen(value: Any) -> Any:
    """Lists and tensors (focal alpha, lovasz classes) are stored as tuples: the module then holds no mutable or
    device-bound option, and its repr stays on one line."""
    if isinstance(value, torch.Tensor):
        return tuple(value.detach().cpu().reshape(-1).tolist())
    return tuple(value) if isinstance(value, list) else value


class FunctionLoss(nn.Module):
    """Module form of `loss_fn(logits, targets, *, **options, weight=None)`; forward(logits, targets, weight=None).

    A subclass declares the options as an explicit keyword-only `__init__` (build_loss and the ROI head read
    that signature to accept or reject keywords) and passes them here with `check_options(name, **options)`,
    the validator the function itself runs, so that bad options raise ValueError at construction.
    """

    def __init__(self, loss_fn: Callable[..., torch.Tensor], check_options: Callable[..., None], **options: Any):
        super().__init__()
        check_options(loss_fn.__name__, **options)  # once, here: forward calls the unchecked function
        self.loss_fn = getattr(loss_fn, "__wrapped__", loss_fn)
        self.options = {name: _frozen(value) for name, value in options.items()}
        # Dice and Lovasz are not sums over pixels: their functions take no per-pixel weight.
        self._takes_weight = "weight" in inspect.signature(loss_fn).parameters

    def forward(self, logits: torch.Tensor, targets: torch.Tensor,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        if weight is None:
            return self.loss_fn(logits, targets, **self.options)
        if not self._takes_weight:
            raise ValueError(f"{type(self).__name__}: per-pixel weight is not supported ({self.loss_fn.__name__} "
                             f"is not a sum over pixels); pass weight=None")
        return self.loss_fn(logits, targets, **self.options, weight=weight)

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={value!r}" for name, value in self.options.items())
