"""Iterations relative to the schedule, for LazyConfig files: a switch or stop point that follows train.max_iter.

    model.roi_heads.box_predictor.loss_switch_iter = fraction_of_max_iter(0.5)   # "${fraction_of_max_iter:0.5}"

A Python expression such as `train.max_iter // 2` is evaluated when the file loads, before command-line
overrides, so `train.max_iter=100` would leave it at 250. The interpolation is resolved when the run reads it,
against the run's own train.max_iter: round(fraction * train.max_iter).
"""

from __future__ import annotations

import math
import numbers

from omegaconf import OmegaConf

__all__ = ["RESOLVER_NAME", "fraction_of_max_iter"]

RESOLVER_NAME = "fraction_of_max_iter"


def _resolve(fraction, *, _root_) -> int:
    value = float(fraction)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"${{{RESOLVER_NAME}:{fraction}}}: the fraction must lie in [0, 1]")
    return int(round(value * int(_root_.train.max_iter)))


def fraction_of_max_iter(fraction: float) -> str:
    """The interpolation string for `fraction` (in [0, 1]) of the run's train.max_iter."""
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction_of_max_iter: fraction must be a number in [0, 1], got {fraction!r}")
    return f"${{{RESOLVER_NAME}:{float(fraction)}}}"


if not OmegaConf.has_resolver(RESOLVER_NAME):
    OmegaConf.register_new_resolver(RESOLVER_NAME, _resolve)
