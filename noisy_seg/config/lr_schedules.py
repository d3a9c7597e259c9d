"""The semantic-segmentation LR schedules of the carpartssegment seed (seed 004, methods.md section 6), as fvcore
param schedulers composed from fvcore's own pieces. Both return a multiplier of the base LR (1.0 = base LR) as a
function of the training fraction t = iter / max_iter in [0, 1):

    poly:       max((1 - t) ** power, floor)                      power 0.9, floor 0.02
    one-cycle:  t <  peak_at: 1/d + (1 - 1/d) * (1 - cos(pi * t / peak_at)) / 2               (cosine up)
                t >= peak_at: 1/d + (1 - 1/d) * (1 + cos(pi * (t - peak_at) / (1 - peak_at))) / 2   (cosine down)
                                                                    peak_at 0.3, d = div_factor 25

Warmup is not part of them: wrap either in detectron2's WarmupParamScheduler, as configs/common/semantic_schedules.py
does, and detectron2's LRMultiplier applies the result to an optimizer.
"""

from __future__ import annotations

import math

from fvcore.common.param_scheduler import (
    CompositeParamScheduler,
    CosineParamScheduler,
    LinearParamScheduler,
    ParamScheduler,
    PolynomialDecayParamScheduler,
)

__all__ = ["one_cycle_schedule", "poly_schedule"]


def poly_schedule(power: float = 0.9, floor: float = 0.02) -> ParamScheduler:
    """`max((1 - t) ** power, floor)`: polynomial decay from 1.0, held at `floor` once it gets there."""
    if not (0 < power < math.inf and 0 <= floor < 1):
        raise ValueError(f"poly_schedule: need power > 0 and 0 <= floor < 1, got power={power!r}, floor={floor!r}")
    decay = PolynomialDecayParamScheduler(base_value=1.0, power=power)
    if floor == 0:
        return decay
    floor_from = 1.0 - floor ** (1.0 / power)  # (1 - t) ** power == floor here
    # "fixed": the decay sees the global t, so its first segment is exactly (1 - t) ** power, not a stretched copy.
    # The floor is a flat line, not a ConstantParamScheduler: that one rejects t == 1.0, which detectron2's
    # LRMultiplier asks for when the trainer steps it after the last iteration.
    return CompositeParamScheduler(
        [decay, LinearParamScheduler(start_value=floor, end_value=floor)],
        lengths=[floor_from, 1.0 - floor_from],
        interval_scaling=["fixed", "rescaled"],
    )


def one_cycle_schedule(peak_at: float = 0.3, div_factor: float = 25.0) -> ParamScheduler:
    """Cosine from `1 / div_factor` up to 1.0 over the first `peak_at` of training, then cosine back down to
    `1 / div_factor`. The LR only: the seed's opposite momentum cycle (0.95 -> 0.85 -> 0.95) is not reproduced."""
    if not (0 < peak_at < 1 and 1 <= div_factor < math.inf):
        raise ValueError(
            f"one_cycle_schedule: need 0 < peak_at < 1 and div_factor >= 1, got peak_at={peak_at!r}, "
            f"div_factor={div_factor!r}"
        )
    low = 1.0 / div_factor
    # "rescaled": each half runs its whole cosine (t' from 0 to 1) within its own share of training.
    return CompositeParamScheduler(
        [CosineParamScheduler(start_value=low, end_value=1.0), CosineParamScheduler(start_value=1.0, end_value=low)],
        lengths=[peak_at, 1.0 - peak_at],
        interval_scaling=["rescaled", "rescaled"],
    )
