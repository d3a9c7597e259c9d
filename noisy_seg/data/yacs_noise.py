"""The label noise a yacs config asks for, as the noisy mappers take it: INPUT.LABEL_NOISE (a short name) or
INPUT.LABEL_NOISE_SPEC (TYPE and that type's keys), declared by `noisy_seg.config.add_noisy_seg_config`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional, Union

__all__ = ["label_noise_from_cfg"]


def label_noise_from_cfg(cfg) -> Optional[Union[str, dict]]:
    """A short name, a spec dict with lower-case keys, or None (clean); one ValueError when both keys are set or
    the spec has no TYPE. (Python code may also assign a spec dict to INPUT.LABEL_NOISE.)"""
    name = cfg.INPUT.get("LABEL_NOISE", "") or None
    spec = _set_keys(cfg.INPUT.get("LABEL_NOISE_SPEC", None) or {})
    if name is not None and spec:
        shown = {key.upper(): value for key, value in spec.items()}
        raise ValueError(
            f"INPUT.LABEL_NOISE ({_plain(name)!r}) and INPUT.LABEL_NOISE_SPEC ({shown}) are both set: set one of them"
        )
    if spec and "type" not in spec:
        raise ValueError(
            f"INPUT.LABEL_NOISE_SPEC sets {sorted(k.upper() for k in spec)} but no TYPE: add "
            "INPUT.LABEL_NOISE_SPEC.TYPE (e.g. symmetric), or use INPUT.LABEL_NOISE <short name>"
        )
    if isinstance(name, Mapping):
        return _set_keys(name)
    return name or spec or None


def _set_keys(node: Mapping) -> dict:
    """{lower-case key: plain value} of the keys a spec node sets (None and an empty node are not set)."""
    return {key.lower(): _plain(value) for key, value in node.items() if value is not None and value != {}}


def _plain(value):
    """yacs CfgNodes (dicts) -> plain dicts, recursively."""
    return {key: _plain(v) for key, v in value.items()} if isinstance(value, Mapping) else value
