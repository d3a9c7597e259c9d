"""Input checks shared by the noise models; each raises ValueError with one actionable line."""

from __future__ import annotations

import math
import numbers

import numpy as np


def check_rate(rate, name: str = "rate") -> float:
    """A probability in [0, 1] -> float."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not math.isfinite(rate):
        raise ValueError(f"{name} must be a number in [0, 1], got {rate!r}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {rate}; e.g. 0.4 means 40% noisy labels")
    return float(rate)


def check_seed(seed) -> int:
    """A non-negative int below 2**64 -> int."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be a non-negative int, got {seed!r}; pass e.g. seed=0")
    seed = int(seed)
    if not 0 <= seed <= (1 << 64) - 1:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}; pass a smaller non-negative int")
    return seed


def check_num_classes(num_classes) -> int:
    """A positive class count -> int."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    return int(num_classes)


def check_can_change_labels(num_classes: int, rate: float, model: str) -> None:
    """Class noise at a rate > 0 needs a class to flip to: on a dataset of one class it would realize nothing while
    its name promises noise, so it is refused."""
    if num_classes == 1 and rate > 0:
        raise ValueError(
            f"{model} at rate {rate:g} cannot change any label: the dataset has 1 class, so there is no "
            "other class to flip to; use rate 0 (or clean), or a dataset of several classes"
        )


def check_non_negative(value, name: str) -> float:
    """A finite number >= 0 -> float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_labels(labels, num_classes: int, name: str = "labels") -> np.ndarray:
    """1-D integer class indices in [0, num_classes) -> int64 array (n,)."""
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class indices, got shape {array.shape}")
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind not in "iu":
        raise ValueError(f"{name} must be integer class indices, got dtype {array.dtype}")
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        raise ValueError(
            f"{name} contains class {bad} outside [0, {num_classes}); "
            "labels must be contiguous indices (detectron2 order), not dataset category ids"
        )
    return array.astype(np.int64, copy=False)


def check_model_fields(model) -> None:
    """Check and normalize the ``rate``, ``num_classes`` and ``seed`` fields a frozen noise model has, in place
    (its constructor is the boundary where they are validated)."""
    for name, check in (("rate", check_rate), ("num_classes", check_num_classes), ("seed", check_seed)):
        if name in model.__dataclass_fields__:
            object.__setattr__(model, name, check(getattr(model, name)))
