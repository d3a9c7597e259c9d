"""`key=value` command-line overrides of LazyConfig files, with unknown keys and mistyped values rejected.

detectron2's `LazyConfig.apply_overrides` silently creates keys that do not exist, so a typo such as
`train.max_iters=3` trains with the config's value. Here a key must exist, or be an argument of the
LazyCall target it is set on (following `**kwargs` a class passes on to its base classes, as
NoisyDatasetMapper does to DatasetMapper), or live inside a plain dict argument (e.g. `cls_loss_kwargs.q`);
and a value must have the type of the scalar it replaces (`train.max_iter=abc` is an error).
"""

from __future__ import annotations

import inspect
from typing import Iterable, Optional

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, ListConfig, OmegaConf

from detectron2.config import LazyConfig
from detectron2.config.instantiate import _convert_target_to_string, locate

from ..utils.errors import UserInputError, did_you_mean

_MISSING = object()


def _named_parameters(function) -> Optional[tuple[set, bool]]:
    """(parameter names, takes **kwargs) of a callable, or None when it has no inspectable signature."""
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return None
    names = {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)} - {"self"}
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def accepted_arguments(target) -> Optional[set]:
    """The keyword arguments `target` accepts, or None if it accepts any (a function taking **kwargs, a class
    whose **kwargs reach `object`). A class's **kwargs are followed through the __init__ of its bases."""
    if isinstance(target, str):
        target = locate(target)
    if not inspect.isclass(target):
        found = _named_parameters(target)
        return None if found is None or found[1] else found[0]
    accepted: set = set()
    for klass in target.__mro__:
        if klass is object:
            return None
        if "__init__" not in vars(klass):
            continue
        found = _named_parameters(vars(klass)["__init__"])
        if found is None:
            return None
        accepted |= found[0]
        if not found[1]:
            return accepted
    return None


def _suggest(cfg: DictConfig, key: str, extra: Iterable[str] = ()) -> str:
    parent_key, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_key, default=None) if parent_key else cfg
    if not isinstance(parent, DictConfig):
        return ""
    candidates = {str(k) for k in parent.keys()} | set(extra)
    return did_you_mean(leaf, candidates, prefix=parent_key + "." if parent_key else "")


def check_override_key(cfg: DictConfig, key: str) -> None:
    """Raise UserInputError if `key` does not name an existing or accepted config entry."""
    if OmegaConf.select(cfg, key, default=_MISSING, throw_on_resolution_failure=False) is not _MISSING:
        return
    parent_key, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_key, default=None) if parent_key else None
    if isinstance(parent, DictConfig):
        target = parent.get("_target_")
        if target is None and "." in parent_key:  # a free-form dict argument, e.g. *_kwargs
            return
        if target is not None:
            accepted = accepted_arguments(target)
            if accepted is None or leaf in accepted:
                return
            name = _convert_target_to_string(target) if not isinstance(target, str) else target
            raise UserInputError(
                f"unknown config key '{key}': {name} has no argument '{leaf}'.{_suggest(cfg, key, accepted)}"
            )
    raise UserInputError(
        f"unknown config key '{key}': it is not in the config.{_suggest(cfg, key)} "
        "Check its spelling against the config file."
    )


def _type_name(value) -> str:
    return {bool: "a bool (true/false)", int: "an int", float: "a number", list: "a list"}.get(type(value), "")


def check_override_value(cfg: DictConfig, key: str, value) -> None:
    """Raise UserInputError if `value` does not have the type of the scalar (or list) that `key` holds now.
    None (`key=null`) is allowed: the keys that must not be None are checked with the config."""
    current = OmegaConf.select(cfg, key, default=_MISSING, throw_on_resolution_failure=False)
    if current is _MISSING or current is None or value is None or isinstance(current, str):
        return
    if isinstance(current, ListConfig):
        current = list(current)
    if isinstance(current, bool):
        ok = isinstance(value, bool)
    elif isinstance(current, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(current, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(current, (list, tuple)):
        ok = isinstance(value, (list, tuple))
    else:
        return
    if not ok:
        raise UserInputError(
            f"{key}={value!r}: expected {_type_name(current) or type(current).__name__} like the config's "
            f"{current!r}, got {type(value).__name__} {value!r}"
        )


def apply_overrides(cfg: DictConfig, overrides: Iterable[str]) -> DictConfig:
    """Validate then apply hydra-style `a.b=c` overrides (detectron2's LazyConfig semantics)."""
    overrides = list(overrides or [])
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as e:  # hydra's parse errors are multi-line
        raise UserInputError(f"cannot parse overrides {overrides}: {str(e).splitlines()[0]} (use key=value)") from None
    for o in parsed:
        check_override_key(cfg, o.key_or_group)
        check_override_value(cfg, o.key_or_group, o.value())
    return LazyConfig.apply_overrides(cfg, overrides)
