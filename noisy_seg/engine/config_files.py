"""Loading a LazyConfig file named on a command line, with its key=value overrides: every problem one line.

The file is a path, or, when no such file exists, the name of a config shipped in the package
(`noisy_seg.model_zoo`: "toy/mask_rcnn_R18_FPN_ce.py"), so an installed noisy_seg runs without the repository."""

from __future__ import annotations

import os
from typing import Sequence

import yaml

from detectron2.config import LazyConfig

from ..model_zoo import get_config_file
from ..utils.errors import UserInputError
from .overrides import apply_overrides

__all__ = ["load_lazy_config", "read_yaml_safely", "resolve_config_file"]


def resolve_config_file(config_file: str) -> str:
    """`config_file` if it is a file, else the path of the packaged config of that name (a path that exists wins)."""
    if config_file and os.path.isfile(config_file):
        return config_file
    try:
        return get_config_file(config_file)
    except UserInputError as err:
        raise UserInputError(f"config file '{config_file}' not found, and {err}") from None


def load_lazy_config(
    config_file: str, opts: Sequence[str], *, required: Sequence[str] = ("model",), missing_hint: str = ""
):
    """The LazyConfig `config_file` (a .py file or a run's saved config.yaml) with `opts` applied; it must define
    the `required` top-level keys (`missing_hint` follows the error that says which it lacks). `config_file` may
    also name a packaged config (see `resolve_config_file`)."""
    config_file = resolve_config_file(config_file)
    if not config_file.endswith((".py", ".yaml", ".yml")):
        raise UserInputError(f"config file '{config_file}' is neither a LazyConfig .py file nor a saved config.yaml")
    if config_file.endswith((".yaml", ".yml")):  # detectron2 reads it with yaml.unsafe_load
        read_yaml_safely(config_file, "LazyConfig", hint="a saved config.yaml holds plain values")
    try:
        cfg = LazyConfig.load(config_file)
    except SyntaxError as e:
        cause = e.__cause__ if isinstance(e.__cause__, SyntaxError) else e  # detectron2 re-raises without the line
        raise UserInputError(f"{config_file}:{cause.lineno}: syntax error: {cause.msg}") from None
    missing = [key for key in required if key not in cfg]
    if missing:
        raise UserInputError(f"{config_file} defines no {', '.join(missing)}{missing_hint}")
    return apply_overrides(cfg, opts)


def read_yaml_safely(filename: str, kind: str, hint: str):
    """The content of a YAML config read with yaml.safe_load; one UserInputError line for a Python tag
    (`!!python/object/apply:...`: detectron2's loaders use yaml.unsafe_load, where such a tag runs code as the file is
    read), a file that is not text, or invalid YAML. `kind` names the config in the message, `hint` ends it."""
    try:
        with open(filename, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except yaml.constructor.ConstructorError as err:
        where = f" (line {err.problem_mark.line + 1})" if err.problem_mark else ""
        raise UserInputError(
            f"{filename}{where}: the YAML tag {_tag(err)} is refused: {kind} files are read with "
            f"yaml.safe_load (Python tags would run code); write plain values"
        ) from None
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        problem = (
            "not a text file"
            if isinstance(err, UnicodeDecodeError)
            else f"not valid YAML ({' '.join(str(err).split())})"
        )
        raise UserInputError(f"{filename} is {problem}, so not a {kind}; {hint}") from None


def _tag(err: yaml.constructor.ConstructorError) -> str:
    """The tag as written (`!!python/object/apply:os.system`), from PyYAML's "... for the tag '...'"."""
    quoted = (err.problem or "").split("'")
    return quoted[1].replace("tag:yaml.org,2002:", "!!") if len(quoted) > 2 else "(unknown)"
