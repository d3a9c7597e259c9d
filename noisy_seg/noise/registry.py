"""The one registry of noise models, and the one spec vocabulary that configs, short names and the offline tool
all resolve to.

A spec is a dict: ``{"type": <registered name>, <the builder's keyword arguments>...}``, e.g.

    {"type": "symmetric", "rate": 0.4, "seed": 0}                  # each label flipped with probability 0.4
    {"type": "symmetric", "rate": 0.4, "include_true": True}       # uniform mix: redraw 40% over all K classes
    {"type": "asymmetric", "rate": 0.2, "preset": "coco"}          # or "mapping": {"3": [4, 5]} (contiguous)
    {"type": "transition_matrix", "matrix": [[...], ...]}
    {"type": "spatial", "preset": "medium"}                        # COCO-N: + its uniform-mix class noise
    {"type": "drop", "rate": 0.1}
    {"type": "semantic", "rate": 0.3}
``build_noise`` also takes a list of specs (at most one class, spatial and drop part) or a short name.

Adding a noise model is one file in this package with one ``register_noise(...)`` line in it (the package
imports all its modules): the spec keys are the builder's keyword arguments (read from its signature),
and ``short="abc"`` gives it short names.

Short names: ``<short><NN>[_<preset>][_s<seed>]``: NN is a rate in percent, preset a word, seed an int
(``sym40``, ``asym20_cityscapes``, ``coco_n_hard``, ``sem30_s1``); ``clean`` is no noise.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Callable

__all__ = [
    "NOISE_REGISTRY",
    "NoiseEntry",
    "build_class_noise",
    "build_noise",
    "build_semantic_noise",
    "named_noise_spec",
    "noise_spec",
    "register_noise",
    "spec_keys",
]

PARTS = ("class_noise", "spatial_noise", "drop_noise", "semantic_noise")
_CLEAN = re.compile(r"^clean(?:_s\d+)?$")
_SHORT_TAIL = re.compile(r"^(?P<rate>\d{1,3})?(?:_(?P<preset>[a-z]+))?(?:_s(?P<seed>\d+))?$")


@dataclass(frozen=True)
class NoiseEntry:
    """A registered noise type: ``build(num_classes=K, **params)`` returns a model for ``part``, or a dict
    {part: model or None} when one spec makes several parts (COCO-N's spatial + class noise)."""

    name: str
    part: str
    build: Callable
    allowed: frozenset
    required: frozenset
    short: dict = field(default_factory=dict)  # short-name prefix -> params it fixes (e.g. {"symmix": {...}})
    takes_num_classes: bool = True
    presets: tuple = ()  # the preset words its short names may carry


NOISE_REGISTRY: dict[str, NoiseEntry] = {}


def register_noise(name: str, part: str, build: Callable, short: Mapping[str, Mapping] | str | None = None, presets=()):
    """Register ``build`` (a model class or function taking ``num_classes`` and the spec's keys as keywords)
    as noise type ``name`` for pipeline slot ``part``; ``short``: a short-name prefix, or {prefix: fixed params};
    ``presets``: the names its ``preset`` key takes (checked when a short name is read)."""
    if part not in PARTS:
        raise ValueError(f"register_noise({name!r}): part must be one of {PARTS}, got {part!r}")
    if name in NOISE_REGISTRY:
        raise ValueError(f"register_noise: noise type {name!r} is already registered; pick another name")
    params = inspect.signature(build).parameters
    allowed = frozenset(p for p in params if p != "num_classes")
    required = frozenset(p for p in allowed if params[p].default is inspect.Parameter.empty)
    shorts = {short: {}} if isinstance(short, str) else {k: dict(v) for k, v in (short or {}).items()}
    taken = {prefix: entry.name for entry in NOISE_REGISTRY.values() for prefix in entry.short}
    for prefix in shorts:
        if prefix in taken:
            raise ValueError(f"register_noise({name!r}): short name {prefix!r} is already used by {taken[prefix]!r}")
    NOISE_REGISTRY[name] = NoiseEntry(
        name, part, build, allowed, required, shorts, "num_classes" in params, tuple(sorted(presets))
    )
    return build


def spec_keys() -> dict[str, bool]:
    """Every key a registered noise type's spec takes besides "type", each with whether its value is a mapping
    (asymmetric's ``mapping``): what a config system declares so that any spec can be written in it (yacs:
    ``noisy_seg.config.add_noisy_seg_config``)."""
    keys: dict[str, bool] = {}
    for entry in NOISE_REGISTRY.values():
        params = inspect.signature(entry.build).parameters
        for key in entry.allowed:
            keys[key] = keys.get(key, False) or "Mapping" in str(params[key].annotation)
    return keys


def _entry(spec) -> tuple[NoiseEntry, dict]:
    """(entry, params) of one dict spec, after the key checks; values are checked by the models."""
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"a noise spec must be a dict like {{'type': 'symmetric', 'rate': 0.4}} or a short name like 'sym40', "
            f"got {type(spec).__name__}"
        )
    kind = spec.get("type")
    if kind not in NOISE_REGISTRY and kind != "none":
        raise ValueError(f"unknown noise type {kind!r}; choose one of {sorted(NOISE_REGISTRY) + ['none']}")
    params = {k: v for k, v in spec.items() if k != "type"}
    if kind == "none":
        if params:
            raise ValueError(f"noise type 'none' takes no keys, got {sorted(params)}")
        return None, {}
    entry = NOISE_REGISTRY[kind]
    unknown = sorted(set(params) - entry.allowed)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} for noise type {kind!r}; allowed: {sorted(entry.allowed)}")
    missing = sorted(entry.required - set(params))
    if missing:
        raise ValueError(f"noise type {kind!r} needs key(s) {missing}")
    return entry, params


def _build_parts(spec, num_classes: int) -> dict:
    entry, params = _entry(spec)
    if entry is None:
        return {}
    built = entry.build(**params, **({"num_classes": num_classes} if entry.takes_num_classes else {}))
    return dict(built) if isinstance(built, Mapping) else {entry.part: built}


def named_noise_spec(name: str):
    """The spec of a short noise name (None for "clean")."""
    if isinstance(name, str) and _CLEAN.match(name):
        return None
    candidates = sorted(
        ((prefix, fixed, entry) for entry in NOISE_REGISTRY.values() for prefix, fixed in entry.short.items()),
        key=lambda item: -len(item[0]),  # "symmix40" is symmix, not sym
    )
    for prefix, fixed, entry in candidates if isinstance(name, str) else ():
        match = name.startswith(prefix) and _SHORT_TAIL.match(name[len(prefix) :])
        if not match:
            continue
        spec = {"type": entry.name, **fixed}
        if match["rate"] is not None:
            rate = int(match["rate"])
            if rate > 100:
                raise ValueError(f"noise name {name!r}: the rate must be a percentage in [0, 100]")
            spec["rate"] = rate / 100
        if match["preset"] is not None:
            if match["preset"] not in entry.presets:
                raise ValueError(
                    f"noise name {name!r}: unknown preset {match['preset']!r}; choose one of {list(entry.presets)}"
                )
            spec["preset"] = match["preset"]
        spec["seed"] = int(match["seed"] or 0)
        if set(spec) - {"type"} <= entry.allowed and entry.required <= set(spec):
            return spec
    forms = (
        prefix + ("<NN>" if "rate" in entry.allowed else "") + ("_<preset>" if "preset" in entry.allowed else "")
        for prefix, _, entry in reversed(candidates)
    )
    examples = ", ".join(sorted(set(forms)))
    raise ValueError(
        f"unknown noise name {name!r}; use clean or one of {examples} (e.g. sym40, asym20_cityscapes, "
        "coco_n_hard), each optionally with _s<seed>, or a dict spec"
    )


def noise_spec(noise):
    """A short name, a spec dict or a list of them -> the spec (None for clean); the one way names resolve."""
    if isinstance(noise, str):
        return named_noise_spec(noise)
    if isinstance(noise, Sequence) and not isinstance(noise, Mapping):
        return [named_noise_spec(n) if isinstance(n, str) else n for n in noise]
    return noise


def build_noise(spec, num_classes: int):
    """A NoisePipeline for instance annotations from a spec dict, a list of them, or a short name."""
    from .pipeline import NoisePipeline  # the pipeline module registers nothing; imported here to avoid a cycle

    spec = noise_spec(spec)
    if spec is None:
        return NoisePipeline()
    parts: dict = {}
    for item in [spec] if isinstance(spec, Mapping) or not isinstance(spec, Sequence) else list(spec):
        kind = item.get("type") if isinstance(item, Mapping) else None
        for slot, model in _build_parts(item, num_classes).items():
            if slot == "semantic_noise":
                spatial = sorted(e.name for e in NOISE_REGISTRY.values() if e.part == "spatial_noise")
                raise ValueError(
                    f"noise type {kind!r} is for semantic label maps; use NoisySemSegDatasetMapper, or for instance "
                    f"masks a spatial noise type ({', '.join(spatial)}; e.g. coco_n_medium, maskboundary5)"
                )
            if model is None:
                continue
            if slot in parts:
                raise ValueError(f"two {slot.replace('_', ' ')} specs (the second from {kind!r}); give at most one")
            parts[slot] = model
    return NoisePipeline(**parts)


def build_class_noise(spec: Mapping, num_classes: int):
    """The class-noise model of one spec."""
    parts = _build_parts(spec, num_classes)
    if set(parts) != {"class_noise"}:
        raise ValueError(
            f"noise type {spec.get('type')!r} is not a class-noise model; choose one of "
            f"{sorted(e.name for e in NOISE_REGISTRY.values() if e.part == 'class_noise')}"
        )
    return parts["class_noise"]


def build_semantic_noise(spec, num_classes: int):
    """A SemanticNoise from a spec dict or a short name (e.g. "sem30"); None for clean."""
    spec = noise_spec(spec)
    if spec is None:
        return None
    parts = _build_parts(spec, num_classes)
    if "semantic_noise" not in parts:
        raise ValueError(
            f"noise type {spec.get('type')!r} is for instance annotations; semantic label maps take "
            f"{sorted(e.name for e in NOISE_REGISTRY.values() if e.part == 'semantic_noise')}"
        )
    return parts["semantic_noise"]
