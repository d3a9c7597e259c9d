"""Missing-annotation noise: each annotation is dropped independently with probability ``rate``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import check_model_fields
from .keyed_random import as_key_array, keyed_uniform
from .registry import register_noise

__all__ = ["DROP_STREAM", "MissingAnnotationNoise"]

DROP_STREAM = "drop"


@dataclass(frozen=True, eq=False)
class MissingAnnotationNoise:
    """Drop annotations; the dropped set is nested across rates for one seed."""

    rate: float
    seed: int = 0

    def __post_init__(self):
        check_model_fields(self)

    def keep_mask(self, image_keys, ann_keys) -> np.ndarray:
        """True for annotations that stay -> bool (n,); image_keys scalar or (n,), ann_keys (n,)."""
        anns = as_key_array(ann_keys, "ann_keys")
        if anns.size == 0:
            return np.zeros(0, dtype=bool)
        return keyed_uniform(self.seed, image_keys, anns, DROP_STREAM) >= self.rate


register_noise("drop", "drop_noise", MissingAnnotationNoise, short="drop")
