"""Registering one's own datasets for the tools: `--register MODULE:FUNCTION` (repeatable) imports MODULE and calls
FUNCTION() before the tool looks up its dataset, so a yacs config's DATASETS.TRAIN, a tool's --dataset or a LazyConfig
may name datasets the user's own code registers (DatasetCatalog.register + MetadataCatalog.get(name).set(...)), the
way detectron2 users register theirs at the top of a copied tools/train_net.py. A LazyConfig can do the same with a
LazyCall in dataloader.*.dataset.names (e.g. L(register_coco_file)(...)).

    python tools/train_net.py --register mydata.datasets:register_all --config-file my_yacs.yaml
    python tools/visualize_noise.py --register mydata.datasets:register_all --dataset my_train --noise sym40

A function is called once per process (detectron2 refuses a second registration of a name), also in every process
detectron2's launch starts (the tools call `register_from_args` in each) and in find-label-errors' fold trainings
(`register_coco_view(..., register=[...])`). MODULE is imported from sys.path, the current folder included; the
folder it came from goes on PYTHONPATH for the processes a tool starts.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from .errors import UserInputError

__all__ = ["add_register_argument", "register_from_args", "register_user_datasets"]

_called: set[str] = set()


def add_register_argument(parser) -> None:
    parser.add_argument(
        "--register",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="call FUNCTION() of MODULE first, a function that registers your own datasets with detectron2 (e.g. "
        "mydata.datasets:register_all); repeatable",
    )


def register_from_args(args) -> None:
    """Call each `--register` function of the parsed `args` (none: nothing)."""
    register_user_datasets(getattr(args, "register", None) or [])


def register_user_datasets(specs) -> None:
    """Import and call each "MODULE:FUNCTION" once per process; every problem is one UserInputError."""
    for spec in specs:
        if spec in _called:
            continue
        module_name, _, function_name = spec.partition(":")
        if not module_name or not function_name:
            raise UserInputError(f"--register {spec!r}: give MODULE:FUNCTION, e.g. mydata.datasets:register_all")
        if os.getcwd() not in sys.path and "" not in sys.path:  # a module beside the user, as `python -m` finds it
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise UserInputError(f"--register {spec}: cannot import {module_name} ({err})") from None
        function = getattr(module, function_name, None)
        if not callable(function):
            raise UserInputError(f"--register {spec}: {module_name} has no function {function_name}")
        try:
            function()
        except AssertionError as err:  # detectron2's "already registered"
            raise UserInputError(f"--register {spec}: {function_name}() failed: {err}") from None
        _called.add(spec)
        _export_module_path(module, module_name)


def _export_module_path(module, module_name: str) -> None:
    """The folder MODULE was imported from, on PYTHONPATH for the processes a tool starts (fold trainings run in the
    repository, not in the user's folder)."""
    file = getattr(module, "__file__", None)
    if not file:
        return
    root = str(Path(file).resolve().parents[module_name.count(".")])
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *paths])
