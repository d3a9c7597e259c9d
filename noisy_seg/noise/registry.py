"""Build noise models from plain dicts, so configs and the CLI can name them.

    {"type": "symmetric", "rate": 0.4, "seed": 0}                  # exactly 40% of labels flipped
    {"type": "symmetric", "rate": 0.4, "include_true": True}       # uniform mix: redraw 40% over all K classes
    {"type": "asymmetric", "rate": 0.2, "preset": "coco"}
    {"type": "asymmetric", "rate": 0.2, "mapping": {"3": [4, 5]}}   # contiguous indices
    {"type": "pair_flip", "rate": 0.3}
    {"type": "transition_matrix", "matrix": [[...], ...]}
    {"type": "instance_dependent", "rate": 0.4, "std": 0.1, "feature_size": [32, 32]}
    {"type": "spatial", "preset": "medium"}          # COCO-N: + its uniform-mix class noise (class_rate)
    {"type": "spatial", "p": 0.25, "kernel": 5, "jitter_sigma": 3, "simplify_tolerance": 10}  # p per op family
    {"type": "drop", "rate": 0.1}
    {"type": "none"}
``build_noise`` also takes a list of such dicts (at most one class, spatial and drop part).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .class_noise import AsymmetricNoise, PairFlipNoise, SymmetricNoise, TransitionMatrixNoise
from .instance_dependent import InstanceDependentNoise
from .mask_noise import SpatialNoise
from .missing_annotations import MissingAnnotationNoise
from .pipeline import NoisePipeline
from .presets import spatial_preset
from .semantic_noise import SemanticNoise

__all__ = ["CLASS_NOISE_TYPES", "NOISE_TYPES", "build_class_noise", "build_noise", "build_semantic_noise"]

_ALLOWED_KEYS = {
    "symmetric": {"rate", "seed", "include_true"},
    "asymmetric": {"rate", "seed", "preset", "mapping"},
    "pair_flip": {"rate", "seed"},
    "transition_matrix": {"matrix", "seed"},
    "instance_dependent": {"rate", "seed", "std", "feature_size"},
    "spatial": {"seed", "preset", "p", "kernel", "jitter_sigma", "simplify_tolerance", "class_rate"},
    "drop": {"rate", "seed"},
    "none": set(),
    "semantic": {"rate", "seed", "ignore_label", "background_label", "kernel", "ops"},
}
_REQUIRED_KEYS = {
    "symmetric": {"rate"},
    "asymmetric": {"rate"},
    "pair_flip": {"rate"},
    "transition_matrix": {"matrix"},
    "instance_dependent": {"rate"},
    "drop": {"rate"},
    "semantic": {"rate"},
}
CLASS_NOISE_TYPES = ("symmetric", "asymmetric", "pair_flip", "transition_matrix", "instance_dependent")
NOISE_TYPES = (*CLASS_NOISE_TYPES, "spatial", "drop", "none")


def _checked_spec(spec, allowed_types) -> tuple[str, dict]:
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"a noise spec must be a dict like {{'type': 'symmetric', 'rate': 0.4}}, got {type(spec).__name__}"
        )
    kind = spec.get("type")
    if kind not in allowed_types:
        raise ValueError(f"unknown noise type {kind!r}; choose one of {list(allowed_types)}")
    params = {k: v for k, v in spec.items() if k != "type"}
    unknown = sorted(set(params) - _ALLOWED_KEYS[kind])
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} for noise type {kind!r}; allowed: {sorted(_ALLOWED_KEYS[kind])}")
    missing = sorted(_REQUIRED_KEYS.get(kind, set()) - set(params))
    if missing:
        raise ValueError(f"noise type {kind!r} needs key(s) {missing}")
    return kind, params


def _int_keyed(mapping):
    """JSON/YAML mappings may have "3" for 3; other values (e.g. a matrix) pass through."""
    if not isinstance(mapping, Mapping):
        return mapping
    converted = {}
    for key, value in mapping.items():
        if isinstance(key, str):
            if not key.strip().lstrip("-").isdigit():
                raise ValueError(f"mapping key {key!r} is not a class index; use contiguous class indices")
            key = int(key)
        converted[key] = value
    return converted


def build_class_noise(spec: Mapping, num_classes: int):
    """A class-noise model (ClassNoise or InstanceDependentNoise) from a spec dict."""
    kind, params = _checked_spec(spec, CLASS_NOISE_TYPES)
    seed = params.get("seed", 0)
    if kind == "symmetric":
        return SymmetricNoise(params["rate"], num_classes, seed, params.get("include_true", False))
    if kind == "asymmetric":
        return AsymmetricNoise(
            params["rate"], num_classes, seed, params.get("preset"), _int_keyed(params.get("mapping"))
        )
    if kind == "pair_flip":
        return PairFlipNoise(params["rate"], num_classes, seed)
    if kind == "transition_matrix":
        noise = TransitionMatrixNoise(params["matrix"], seed)
        if noise.num_classes != num_classes:
            raise ValueError(
                f"matrix is {noise.num_classes}x{noise.num_classes} but the dataset has {num_classes} classes"
            )
        return noise
    feature_size = params.get("feature_size", (32, 32))
    feature_size = tuple(feature_size) if isinstance(feature_size, list) else feature_size
    return InstanceDependentNoise(params["rate"], num_classes, seed, params.get("std", 0.1), feature_size)


def _build_spatial(params: dict, num_classes: int) -> tuple[SpatialNoise, SymmetricNoise | None]:
    seed = params.get("seed", 0)
    explicit = {"kernel", "jitter_sigma", "simplify_tolerance"} & set(params)
    if "preset" in params:
        if explicit:
            raise ValueError(f"spatial noise takes either preset or {sorted(explicit)}, not both")
        level = spatial_preset(params["preset"])
        spatial = SpatialNoise.from_preset(params["preset"], seed, params.get("p"))
        class_rate = params.get("class_rate", level.class_noise_rate)
    else:
        missing = sorted({"p", "kernel", "jitter_sigma", "simplify_tolerance"} - set(params))
        if missing:
            raise ValueError(
                f"spatial noise needs preset or all of p, kernel, jitter_sigma, simplify_tolerance; missing {missing}"
            )
        spatial = SpatialNoise(
            params["p"], params["kernel"], params["jitter_sigma"], params["simplify_tolerance"], seed
        )
        class_rate = params.get("class_rate", 0.0)
    # COCO-N's class noise is uniform_mix_C(r, K): the redraw may return the true class
    class_noise = SymmetricNoise(class_rate, num_classes, seed, include_true=True) if class_rate else None
    return spatial, class_noise


def build_noise(spec: Mapping | Sequence[Mapping], num_classes: int) -> NoisePipeline:
    """A NoisePipeline for instance annotations from one spec dict or a list of them."""
    specs = [spec] if isinstance(spec, Mapping) else list(spec)
    parts: dict[str, object] = {}

    def put(slot: str, value, kind: str):
        if value is None:
            return
        if slot in parts:
            raise ValueError(f"two {slot.replace('_', ' ')} specs (the second from {kind!r}); give at most one")
        parts[slot] = value

    for item in specs:
        kind, params = _checked_spec(item, NOISE_TYPES)
        if kind in CLASS_NOISE_TYPES:
            put("class_noise", build_class_noise(item, num_classes), kind)
        elif kind == "spatial":
            spatial, class_noise = _build_spatial(params, num_classes)
            put("spatial_noise", spatial, kind)
            put("class_noise", class_noise, kind)
        elif kind == "drop":
            put("drop_noise", MissingAnnotationNoise(params["rate"], params.get("seed", 0)), kind)
    return NoisePipeline(**parts)


def build_semantic_noise(spec: Mapping, num_classes: int) -> SemanticNoise:
    """A SemanticNoise from {"type": "semantic", "rate": ..., ...}."""
    _, params = _checked_spec(spec, ("semantic",))
    ops = params.get("ops")
    return SemanticNoise(
        params["rate"],
        num_classes,
        params.get("seed", 0),
        params.get("ignore_label", 255),
        params.get("background_label"),
        params.get("kernel", 5),
        None if ops is None else tuple(ops),
    )
