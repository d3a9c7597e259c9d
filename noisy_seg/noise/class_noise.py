"""Class-label noise models on contiguous class indices 0..K-1 (detectron2 order).

Every model here is "flip, then pick a target": an annotation of clean class y flips when its
keyed uniform on stream ``"class_flip"`` is below the flip probability r_y, and a flipped
annotation takes a target drawn from the row F[y] by inverse CDF on stream ``"class_target"``.
So T = diag(1 - r) + diag(r) F, and for one seed the flipped set is nested across rates (an
annotation flipped at rate 0.2 is flipped, to the same target, at rate 0.4).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_can_change_labels, check_model_fields, check_seed
from .keyed_random import broadcast_keys, keyed_uniform
from .presets import ASYMMETRIC_PRESETS, asymmetric_preset
from .registry import register_noise
from .transition import inverse_cdf_table, sample_from_table, validate_transition_matrix

__all__ = [
    "AsymmetricNoise",
    "ClassNoise",
    "FLIP_STREAM",
    "PairFlipNoise",
    "SymmetricNoise",
    "TARGET_STREAM",
    "TransitionMatrixNoise",
]

FLIP_STREAM = "class_flip"
TARGET_STREAM = "class_target"


class ClassNoise:
    """Base class: ``apply`` noises labels, ``expected_transition_matrix`` gives T (K, K).

    Subclasses set ``num_classes``, ``seed``, and the per-class flip probabilities r (K,) and
    flip-target weights F (K, K, rows normalized here) through ``_set_tables``.
    """

    num_classes: int
    seed: int

    def _set_tables(self, flip_probability: np.ndarray, flip_targets: np.ndarray) -> None:
        check_can_change_labels(self.num_classes, float(flip_probability.max(initial=0.0)), type(self).__name__)
        # a class with no possible target never flips (e.g. "car" in Cityscapes)
        totals = flip_targets.sum(axis=1, keepdims=True)
        flip_targets = np.divide(flip_targets, totals, out=np.zeros_like(flip_targets), where=totals > 0)
        has_target = totals[:, 0] > 0
        flip_probability = np.where(has_target, flip_probability, 0.0)
        object.__setattr__(self, "_flip_probability", flip_probability)
        object.__setattr__(self, "_flip_targets", flip_targets)
        object.__setattr__(self, "_target_cdf", inverse_cdf_table(flip_targets))

    def flip_mask(self, labels, image_keys, ann_keys) -> np.ndarray:
        """Whether each annotation takes a flip event -> bool (n,). Nested across rates."""
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        images, anns = broadcast_keys(image_keys, ann_keys)
        return self._flip_events(labels, images, anns)

    def _flip_events(self, labels: np.ndarray, images: np.ndarray, anns: np.ndarray) -> np.ndarray:
        if labels.size == 0:
            return np.zeros(0, dtype=bool)
        return keyed_uniform(self.seed, images, anns, FLIP_STREAM) < self._flip_probability[labels]

    def apply(self, labels, image_keys, ann_keys) -> np.ndarray:
        """Noisy labels int64 (n,) for clean labels (n,) in [0, K) (not checked: the caller's data), image keys (n,)
        or scalar, ann keys (n,)."""
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        images, anns = broadcast_keys(image_keys, ann_keys)
        noisy = labels.copy()
        flipped = np.flatnonzero(self._flip_events(labels, images, anns))
        if flipped.size:
            uniforms = keyed_uniform(self.seed, images[flipped], anns[flipped], TARGET_STREAM)
            noisy[flipped] = sample_from_table(self._target_cdf, labels[flipped], uniforms)
        return noisy

    def expected_transition_matrix(self, num_classes: int | None = None) -> np.ndarray:
        """T[i, j] = P(noisy = j | clean = i), float64 (K, K), rows sum to 1."""
        if num_classes is not None and num_classes != self.num_classes:
            raise ValueError(f"this noise was built for {self.num_classes} classes, not {num_classes}")
        stay = 1.0 - self._flip_probability
        return np.diag(stay) + self._flip_probability[:, None] * self._flip_targets


@dataclass(frozen=True, eq=False)
class SymmetricNoise(ClassNoise):
    """With probability ``rate`` the label becomes a uniformly drawn DIFFERENT class: a flip rate of ``rate`` in
    expectation (each label flips independently, so not exactly ``rate`` of a finite set).

    ``include_true=True`` redraws over all K classes instead, the true one included, so the expected flip rate is
    rate * (K - 1) / K: the papers' "Sym r" (Yang et al. 2020's generation scripts, COCO-N's ``uniform_mix_C``).
    Yang et al.'s scripts draw with ``randint`` over one class too few, so their last class (Cityscapes'
    bicycle, COCO's toothbrush) is never a target; here every class is, so this is their convention, not their
    exact draw.
    """

    rate: float
    num_classes: int
    seed: int = 0
    include_true: bool = False

    def __post_init__(self):
        check_model_fields(self)
        k = self.num_classes
        targets = np.ones((k, k)) if self.include_true else 1.0 - np.eye(k)
        self._set_tables(np.full(k, self.rate), targets)


@dataclass(frozen=True, eq=False)
class PairFlipNoise(ClassNoise):
    """With probability ``rate`` class k becomes (k + 1) mod K."""

    rate: float
    num_classes: int
    seed: int = 0

    def __post_init__(self):
        check_model_fields(self)
        k = self.num_classes
        targets = np.roll(np.eye(k), 1, axis=1) if k > 1 else np.zeros((1, 1))
        self._set_tables(np.full(k, self.rate), targets)


def _int_keyed(mapping: Mapping) -> dict:
    """JSON/YAML mappings may have "3" for 3."""
    converted = {}
    for key, value in mapping.items():
        if isinstance(key, str):
            if not key.strip().lstrip("-").isdigit():
                raise ValueError(f"mapping key {key!r} is not a class index; use contiguous class indices")
            key = int(key)
        converted[key] = value
    return converted


def _targets_from_mapping(mapping: Mapping, num_classes: int) -> np.ndarray:
    """{src: dst or [dst, ...]} -> F (K, K), uniform over each source's targets."""
    targets = np.zeros((num_classes, num_classes))
    for src, dsts in mapping.items():
        dsts = [dsts] if isinstance(dsts, numbers.Integral) else list(dsts)
        for cls in [src, *dsts]:
            if isinstance(cls, bool) or not isinstance(cls, numbers.Integral) or not 0 <= cls < num_classes:
                raise ValueError(f"mapping uses class {cls!r} outside [0, {num_classes}); use contiguous class indices")
        if not dsts:
            raise ValueError(f"mapping gives class {src} no target; list at least one or leave it out")
        if src in dsts:
            raise ValueError(f"mapping sends class {src} to itself; list only the classes it may become")
        targets[int(src), [int(d) for d in dsts]] = 1.0
    return targets


@dataclass(frozen=True, eq=False)
class AsymmetricNoise(ClassNoise):
    """With probability ``rate`` a class flips to one of its designated targets (uniformly).

    Give exactly one of: ``preset`` ("cityscapes", "coco", "voc"; see ``presets.py``) or
    ``mapping`` ({src: dst or [dst, ...]} on contiguous indices, or a (K, K) row-stochastic
    matrix F of target probabilities given a flip). Classes without targets never change.
    """

    rate: float
    num_classes: int
    seed: int = 0
    preset: str | None = None
    mapping: Mapping | np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        check_model_fields(self)
        if (self.preset is None) == (self.mapping is None):
            raise ValueError("AsymmetricNoise needs exactly one of preset=... or mapping=...")
        if self.preset is not None:
            preset = asymmetric_preset(self.preset)
            if len(preset.class_names) != self.num_classes:
                raise ValueError(
                    f"preset {self.preset!r} has {len(preset.class_names)} classes "
                    f"but num_classes is {self.num_classes}"
                )
            targets = _targets_from_mapping(preset.mapping, self.num_classes)
        elif isinstance(self.mapping, Mapping):
            targets = _targets_from_mapping(_int_keyed(self.mapping), self.num_classes)
        else:
            targets = validate_transition_matrix(self.mapping, "mapping")
            if targets.shape[0] != self.num_classes:
                raise ValueError(f"mapping matrix is {targets.shape} but num_classes is {self.num_classes}")
            targets[np.diag(targets) == 1.0] = 0.0  # all mass on itself: this class never flips
        self._set_tables(np.full(self.num_classes, self.rate), targets)


@dataclass(frozen=True, eq=False)
class TransitionMatrixNoise(ClassNoise):
    """General noise from a row-stochastic T (K, K), T[i, j] = P(noisy = j | clean = i).

    Sampled as flip-with-probability 1 - T[i, i], then a target from the off-diagonal row, so
    scaling the off-diagonal mass gives nested flip sets like the other models.
    """

    matrix: np.ndarray = field(repr=False)
    seed: int = 0

    def __post_init__(self):
        matrix = validate_transition_matrix(self.matrix)
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "seed", check_seed(self.seed))
        object.__setattr__(self, "num_classes", matrix.shape[0])
        off_diagonal = matrix * (1.0 - np.eye(matrix.shape[0]))
        self._set_tables(off_diagonal.sum(axis=1), off_diagonal)

    def expected_transition_matrix(self, num_classes: int | None = None) -> np.ndarray:
        super().expected_transition_matrix(num_classes)  # validates num_classes
        return self.matrix.copy()


def transition_matrix_noise(matrix, num_classes: int, seed: int = 0) -> TransitionMatrixNoise:
    """``TransitionMatrixNoise`` checked against the dataset's class count."""
    noise = TransitionMatrixNoise(matrix, seed)
    if noise.num_classes != num_classes:
        raise ValueError(f"matrix is {noise.num_classes}x{noise.num_classes} but the dataset has {num_classes} classes")
    return noise


register_noise("symmetric", "class_noise", SymmetricNoise, short={"sym": {}, "symmix": {"include_true": True}})
register_noise("asymmetric", "class_noise", AsymmetricNoise, short="asym", presets=ASYMMETRIC_PRESETS)
register_noise("pair_flip", "class_noise", PairFlipNoise, short="pairflip")
register_noise("transition_matrix", "class_noise", transition_matrix_noise)
