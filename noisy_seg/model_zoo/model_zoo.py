"""The config files shipped inside the package, by name, as `detectron2.model_zoo` serves detectron2's.

`noisy_seg/model_zoo/configs` and `noisy_seg/model_zoo/projects` are links to the repository's `configs/` and
`projects/`, the one copy that is edited; setup.py ships the config files under them as package data. An installed
noisy_seg thus holds the same tree as the repository, so the project configs' relative `LazyConfig.load_rel` paths
(`../../../../configs/toy/...`) resolve in it too.

A name is a path relative to `configs/`, as detectron2's model zoo names its configs ("toy/mask_rcnn_R18_FPN_ce.py"),
or relative to the repository root, as the READMEs write them ("configs/toy/mask_rcnn_R18_FPN_ce.py",
"projects/NoisySemanticLabels/configs/toy/semantic_R18_FPN_ce.py"). `python -m noisy_seg.model_zoo` lists them:
the LazyConfig .py files (`get_config` loads them) and the yacs .yaml configs (`tools/train_net.py` runs both).
The grid files of `configs/grids/` ship too ("grids/demo.yaml"), for `tools/run_grid.py --grid demo`.
"""

from __future__ import annotations

import difflib
from pathlib import Path, PurePosixPath

from detectron2.config import LazyConfig

from ..utils.errors import UserInputError

__all__ = ["ZOO_ROOT", "config_names", "get_config", "get_config_file"]

ZOO_ROOT = Path(__file__).parent  # holds configs/ and projects/ (links in a checkout, copies when installed)
_TOP_FOLDERS = ("configs", "projects")
_SHIPPED_SUFFIXES = (".py", ".yaml")  # LazyConfigs; yacs configs and the grid files of configs/grids
LIST_HINT = "`python -m noisy_seg.model_zoo` lists the names"


def config_names() -> list[str]:
    """Every packaged config (LazyConfig .py, yacs .yaml; not the grids): the `configs/` ones by their
    detectron2-style name, then the project ones."""
    configs = ZOO_ROOT / "configs"
    files = [path for suffix in _SHIPPED_SUFFIXES for path in configs.rglob(f"*{suffix}")]
    names = sorted(path.relative_to(configs).as_posix() for path in files if path.parent != configs / "grids")
    return names + sorted(path.relative_to(ZOO_ROOT).as_posix() for path in ZOO_ROOT.glob("projects/*/configs/**/*.py"))


def get_config_file(name: str) -> str:
    """The path of the packaged config file `name` (see the module docstring for names)."""
    relative = PurePosixPath(name or "")
    if not relative.parts or relative.is_absolute() or ".." in relative.parts:
        raise UserInputError(
            f"config name {name!r} must name a file inside the packaged configs, such as "
            f"'toy/mask_rcnn_R18_FPN_ce.py'; {LIST_HINT}"
        )
    if relative.parts[0] not in _TOP_FOLDERS:
        relative = "configs" / relative
    path = ZOO_ROOT / relative
    if path.suffix not in _SHIPPED_SUFFIXES or not path.is_file():
        close = difflib.get_close_matches(name, config_names(), n=1)
        suggestion = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserInputError(f"no packaged config is named {name!r}{suggestion}; {LIST_HINT}")
    return str(path)


def get_config(name: str):
    """The packaged LazyConfig `name`, loaded (detectron2's `model_zoo.get_config` for noisy_seg's configs)."""
    path = get_config_file(name)
    if not path.endswith(".py"):
        raise UserInputError(f"{name!r} is not a LazyConfig .py file; {LIST_HINT}")
    return LazyConfig.load(path)
