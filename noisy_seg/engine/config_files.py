"""Loading a LazyConfig file named on a command line, with its key=value overrides: every problem one line."""
from __future__ import annotations

import os
from typing import Sequence

from detectron2.config import LazyConfig

from ..utils.errors import UserInputError
from .overrides import apply_overrides

__all__ = ["load_lazy_config"]


def load_lazy_config(config_file: str, opts: Sequence[str], *, required: Sequence[str] = ("model",),
                     missing_hint: str = ""):
    """The LazyConfig `config_file` (a .py file or a run's saved config.yaml) with `opts` applied; it must define
    the `required` top-level keys (`missing_hint` follows the error that says which it lacks)."""
    if not config_file or not os.path.isfile(config_file):
        raise UserInputError(f"config file '{config_file}' not found: pass --config-file configs/<...>.py")
    if not config_file.endswith((".py", ".yaml", ".yml")):
        raise UserInputError(f"config file '{config_file}' is neither a LazyConfig .py file nor a saved config.yaml")
    try:
        cfg = LazyConfig.load(config_file)
    except SyntaxError as e:
        cause = e.__cause__ if isinstance(e.__cause__, SyntaxError) else e  # detectron2 re-raises without the line
        raise UserInputError(f"{config_file}:{cause.lineno}: syntax error: {cause.msg}") from None
    missing = [key for key in required if key not in cfg]
    if missing:
        raise UserInputError(f"{config_file} defines no {', '.join(missing)}{missing_hint}")
    return apply_overrides(cfg, opts)
