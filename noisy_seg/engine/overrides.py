"""`key=value` command-line overrides of LazyConfig files, with unknown keys rejected.

detectron2's `LazyConfig.apply_overrides` silently creates keys that do not exist, so a typo such as
`train.max_iters=3` trains with the config's value. Here a key must exist, or be an argument of the
LazyCall target it is set on, or live inside a plain dict argument (e.g. `cls_loss_kwargs.q`).
"""
from __future__ import annotations

import difflib
import inspect
from typing import Iterable

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from detectron2.config import LazyConfig
from detectron2.config.instantiate import _convert_target_to_string, locate

from ..utils.errors import UserInputError

_MISSING = object()


def _accepts_argument(target, name: str) -> bool:
    if isinstance(target, str):
        target = locate(target)
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):  # builtins without a signature: be permissive
        return True
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _suggest(cfg: DictConfig, key: str) -> str:
    parent_key, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_key, default=None) if parent_key else cfg
    if not isinstance(parent, DictConfig):
        return ""
    close = difflib.get_close_matches(leaf, [str(k) for k in parent.keys()], n=3)
    return f" Did you mean: {', '.join((parent_key + '.' if parent_key else '') + c for c in close)}?" if close else ""


def check_override_key(cfg: DictConfig, key: str) -> None:
    """Raise UserInputError if `key` does not name an existing or accepted config entry."""
    if OmegaConf.select(cfg, key, default=_MISSING) is not _MISSING:
        return
    parent_key, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_key, default=None) if parent_key else None
    if isinstance(parent, DictConfig):
        target = parent.get("_target_")
        if target is not None and _accepts_argument(target, leaf):
            return
        if target is None and "." in parent_key:  # a free-form dict argument, e.g. *_kwargs
            return
        if target is not None:
            name = _convert_target_to_string(target) if not isinstance(target, str) else target
            raise UserInputError(f"unknown config key '{key}': {name} has no argument '{leaf}'.{_suggest(cfg, key)}")
    raise UserInputError(
        f"unknown config key '{key}': it is not in the config.{_suggest(cfg, key)} "
        "Check its spelling against the config file."
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
    return LazyConfig.apply_overrides(cfg, overrides)
