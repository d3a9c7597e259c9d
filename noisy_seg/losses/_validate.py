"""Argument checks and the shared reduction used by every loss in this package.

Options are checked once: by a public function when called directly, by its module when it is built. Per
call only shapes, dtypes and devices are checked, which never reads tensor values: no loss forces a
device-to-host sync. Target values are the data's business (an out-of-range target fails in the gather);
non-finite logits give a NaN loss, which detectron2's trainer stops on.
"""
from __future__ import annotations

import functools
import inspect
import math
from typing import Callable, Optional

import torch

REDUCTIONS = ("none", "mean", "sum")
_LOW_PRECISION = (torch.float16, torch.bfloat16)


def check_reduction(reduction: str, name: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_non_negative(value: float, arg: str, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}: {arg} must be a finite number >= 0, got {value!r}")


def check_positive(value: float, arg: str, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: {arg} must be a finite number > 0, got {value!r}")


def check_label_floor(label_floor: float, name: str) -> None:
    if isinstance(label_floor, bool) or not isinstance(label_floor, (int, float)) or not 0 < label_floor < 1:
        raise ValueError(f"{name}: label_floor must lie in (0, 1) (e.g. 1e-4), got {label_floor!r}")


def check_ignore_index(ignore_index: Optional[int], name: str) -> None:
    if ignore_index is not None and (isinstance(ignore_index, bool) or not isinstance(ignore_index, int)):
        raise ValueError(f"{name}: ignore_index must be an int or None, got {ignore_index!r}")


def check_reduction_and_ignore_index(name: str, reduction: str, ignore_index: Optional[int]) -> None:
    """The options every per-element loss has. `name` comes first, as in each loss's option validator
    `check_options(name, **options)`: losses with no other option use this one directly."""
    check_reduction(reduction, name)
    check_ignore_index(ignore_index, name)


def compute_dtype_logits(logits: torch.Tensor) -> torch.Tensor:
    """fp16/bf16 logits are upcast to float32 (softmax needs the range); float32/float64 pass unchanged."""
    return logits.float() if logits.dtype in _LOW_PRECISION else logits


def check_logits_targets(
    logits: torch.Tensor,
    targets: torch.Tensor,
    name: str,
    *,
    ignore_index: Optional[int] = None,
    dense_only: bool = False,
    classification_only: bool = False,
) -> None:
    """Shapes and dtypes: logits (N, C) or (N, C, *spatial) floating, targets (N, *spatial) integer."""
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise ValueError(f"{name}: logits and targets must be torch.Tensor, got {type(logits).__name__} "
                         f"and {type(targets).__name__}")
    if not logits.is_floating_point():
        raise ValueError(f"{name}: logits must be a floating tensor, got dtype {logits.dtype}")
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise ValueError(f"{name}: targets must be an integer tensor of class indices, got dtype {targets.dtype}")
    if dense_only and logits.dim() < 3:
        raise ValueError(f"{name}: expects dense logits (N, C, H, W), got shape {tuple(logits.shape)}")
    if classification_only and logits.dim() != 2:
        raise ValueError(f"{name}: expects classification logits (N, C), got shape {tuple(logits.shape)}")
    if logits.dim() < 2:
        raise ValueError(f"{name}: logits must be (N, C) or (N, C, H, W), got shape {tuple(logits.shape)}")
    expected = (logits.shape[0],) + tuple(logits.shape[2:])
    if tuple(targets.shape) != expected:
        raise ValueError(f"{name}: targets shape {tuple(targets.shape)} does not match logits "
                         f"{tuple(logits.shape)}; expected {expected} (logits with the class axis removed)")
    num_classes = logits.shape[1]
    if num_classes < 2:
        raise ValueError(f"{name}: need at least 2 classes on logits axis 1, got {num_classes}")
    if targets.device != logits.device:
        raise ValueError(f"{name}: targets on {targets.device} but logits on {logits.device}; move them together")
    if ignore_index is not None and 0 <= ignore_index < num_classes:
        raise ValueError(f"{name}: ignore_index={ignore_index} is a real class index for {num_classes} classes; "
                         f"pass ignore_index=None (no ignored targets) or a negative value")


def check_weight_shape(weight: Optional[torch.Tensor], targets: torch.Tensor, name: str) -> None:
    if weight is None:
        return
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
        raise ValueError(f"{name}: weight must be a floating tensor shaped like targets "
                         f"{tuple(targets.shape)}, got {type(weight).__name__}")
    if weight.shape != targets.shape:
        raise ValueError(f"{name}: weight shape {tuple(weight.shape)} must equal targets shape "
                         f"{tuple(targets.shape)} (one weight per sample / pixel)")
    if weight.device != targets.device:
        raise ValueError(f"{name}: weight on {weight.device} but targets on {targets.device}; move them together")


def valid_mask(targets: torch.Tensor, ignore_index: Optional[int]) -> Optional[torch.Tensor]:
    return None if ignore_index is None else targets != ignore_index


def check_loss_inputs(
    logits: torch.Tensor,
    targets: torch.Tensor,
    name: str,
    *,
    ignore_index: Optional[int] = None,
    weight: Optional[torch.Tensor] = None,
    dense_only: bool = False,
    classification_only: bool = False,
) -> Optional[torch.Tensor]:
    """All per-call input checks of a loss: shapes, dtypes and devices (no tensor values, no host sync).
    Returns `valid_mask(targets, ignore_index)` (None when nothing can be ignored)."""
    check_logits_targets(logits, targets, name, ignore_index=ignore_index, dense_only=dense_only,
                         classification_only=classification_only)
    check_weight_shape(weight, targets, name)
    return valid_mask(targets, ignore_index)


def nan_if_nonfinite(loss: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """`loss`, or NaN where any logit is NaN or +-inf. Some losses (Lovasz's sort, a clamp, a masked softmax)
    would otherwise return a finite value and slip past detectron2's finite-loss check; this keeps every loss
    alike without a host sync."""
    return torch.where(torch.isfinite(logits).all(), loss, torch.full((), float("nan"), dtype=loss.dtype,
                                                                        device=loss.device))


def options_checked_by(check: Callable[..., None]):
    """Decorator of a public loss function: on a direct call `check(function_name, **options)` validates its
    keyword options first. Its module form (FunctionLoss) runs the check once at construction and then calls
    the undecorated function (`__wrapped__`), so nothing is checked again per training step."""
    option_names = [name for name in inspect.signature(check).parameters if name != "name"]

    def decorate(function):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def checked(*args, **kwargs):
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as err:
                raise ValueError(f"{function.__name__}: {err}") from None
            bound.apply_defaults()
            check(function.__name__, **{name: bound.arguments[name] for name in option_names})
            return function(*args, **kwargs)

        checked.check_options = check
        return checked

    return decorate


def safe_targets(targets: torch.Tensor, valid: Optional[torch.Tensor]) -> torch.Tensor:
    """int64 targets with ignored entries set to class 0, safe to index with (their loss is masked later)."""
    return targets.long() if valid is None else targets.long().masked_fill(~valid, 0)


def target_log_prob(log_probs: torch.Tensor, targets: torch.Tensor, valid: Optional[torch.Tensor]) -> torch.Tensor:
    """log p_y per sample/pixel from log_probs (N, C, ...); ignored targets read class 0 (masked later)."""
    return log_probs.gather(1, safe_targets(targets, valid).unsqueeze(1)).squeeze(1)


def reduce_loss(
    loss: torch.Tensor,
    reduction: str,
    *,
    valid: Optional[torch.Tensor] = None,
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Per-element loss -> reduced loss. weight multiplies; ignored elements are 0; "mean" divides by the
    number of non-ignored elements (NOT the sum of weights); an empty batch gives 0 with a graph."""
    if weight is not None:
        loss = loss * weight.to(loss.dtype)
    if valid is not None:
        loss = torch.where(valid, loss, torch.zeros((), dtype=loss.dtype, device=loss.device))
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    count = loss.numel() if valid is None else valid.sum()
    if isinstance(count, int):
        return total / max(count, 1)
    return total / count.clamp_min(1).to(total.dtype)
