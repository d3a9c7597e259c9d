"""The dataset a tool reads, named any of three ways (the tools that take a --dataset share them):

    --dataset NAME                                    a registered detectron2 dataset (built in, or --register)
    --dataset FILE.json --like NAME [--image-root DIR] a COCO json read like the registered set NAME (its classes;
                                                      its images unless --image-root): e.g. a noisy copy
    --config-file CONFIG [--dataset NAME]             a LazyConfig .py (its code runs, registering what it
                                                      registers, as tools/train_net.py runs it; a dataset named by
                                                      an L(register_coco_file)(...) is registered) or a yacs .yaml;
                                                      without --dataset, the config's training set

Every wrong combination is one UserInputError line.
"""

from __future__ import annotations

import os
from typing import Optional

from ..data import check_datasets_available, register_coco_file
from ..utils.errors import UserInputError
from .config_checks import dataset_names
from .config_files import load_lazy_config, resolve_config_file
from .yacs_config import is_yacs_config, load_yacs_config

__all__ = ["add_dataset_arguments", "dataset_of_args", "resolve_tool_dataset"]


def add_dataset_arguments(parser, *, dataset_help: str, default: Optional[str] = None, group=None) -> None:
    """--dataset (in `group` when given: a mutually exclusive one), --like, --image-root and --config-file."""
    (group or parser).add_argument(
        "--dataset",
        default=default,
        help=f"{dataset_help}; or a COCO json file with --like; with --config-file, default: its training set",
    )
    parser.add_argument(
        "--like", help="with --dataset FILE.json: the registered dataset the file is a copy of (its classes, images)"
    )
    parser.add_argument("--image-root", help="with --dataset FILE.json: its image folder (default: --like's)")
    parser.add_argument(
        "--config-file",
        help="a LazyConfig .py or yacs .yaml whose datasets to use: its code runs first (registering what it "
        "registers); --dataset defaults to its training set",
    )


def dataset_of_args(args, split: str = "train") -> str:
    """`resolve_tool_dataset` of a parser that `add_dataset_arguments` set up."""
    return resolve_tool_dataset(
        args.dataset, like=args.like, image_root=args.image_root, config_file=args.config_file, split=split
    )


def resolve_tool_dataset(
    dataset: Optional[str],
    *,
    like: Optional[str] = None,
    image_root: Optional[str] = None,
    config_file: Optional[str] = None,
    split: str = "train",
) -> str:
    """The registered name of the dataset a tool was given (see the module docstring); registers a json file."""
    from_file = bool(dataset) and dataset.endswith(".json")
    if not from_file and (like is not None or image_root is not None):
        raise UserInputError("--like and --image-root are for a --dataset json file; a registered dataset has both")
    if config_file is not None:
        names = _config_dataset_names(config_file, split)
        if not dataset:
            if not names:
                raise UserInputError(f"--config-file {config_file} names no {split} dataset; give --dataset NAME")
            dataset = names[0]
    if not dataset:
        raise UserInputError("give --dataset (a registered name, or a COCO json file with --like) or --config-file")
    if not from_file:
        check_datasets_available([dataset])
        return dataset
    if like is None:
        raise UserInputError(
            f"--dataset {dataset} is a json file: give --like, the registered dataset it is a copy of "
            "(e.g. toy_shapes_train)"
        )
    if not os.path.isfile(dataset):
        raise UserInputError(f"--dataset {dataset} not found")
    if image_root is not None and not os.path.isdir(image_root):
        raise UserInputError(f"--image-root {image_root} is not a folder")
    check_datasets_available([like])
    return register_coco_file(dataset, like=like, image_root=image_root)


def _config_dataset_names(config_file: str, split: str) -> list:
    """The `split` dataset names of a LazyConfig (its code run, a LazyCall name instantiated) or a yacs config."""
    path = resolve_config_file(config_file)
    if is_yacs_config(path):
        cfg = load_yacs_config(path, [])
        return list(cfg.DATASETS.TRAIN if split == "train" else cfg.DATASETS.TEST)
    return dataset_names(load_lazy_config(path, [], required=("dataloader",)), split)
