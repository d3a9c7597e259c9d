"""Where generated data (the toy sets) is written: a per-user cache, never the installed package nor the repository.

$NOISY_SEG_DATASETS if set, else ${XDG_CACHE_HOME:-~/.cache}/noisy_seg/datasets. Inside site-packages the data would
outlive `pip uninstall`, fail on a read-only install, and its `datasets/` folder would be importable as an empty
namespace package that shadows HuggingFace's `datasets`.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["generated_data_dir"]


def generated_data_dir() -> Path:
    """The folder the toy sets are generated in (the default set in its `toy_shapes/`, others beside it)."""
    override = os.environ.get("NOISY_SEG_DATASETS")
    if override:
        return Path(override)
    cache = os.environ.get("XDG_CACHE_HOME", "")
    # the XDG spec: a relative $XDG_CACHE_HOME is invalid and must be ignored
    cache_home = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"
    return cache_home / "noisy_seg" / "datasets"
