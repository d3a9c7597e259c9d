"""yacs configs on the command line: telling one from a LazyConfig file, and loading it with noisy_seg's keys and
`KEY VALUE` overrides, every problem one UserInputError line (an unknown key, a mistyped value, a bad noise name, a
count out of range). Files are read with `yaml.safe_load` only: detectron2 falls back to `yaml.unsafe_load`, where a
`!!python/...` tag in a config or its `_BASE_` runs code."""

from __future__ import annotations

import logging
import math
import os
from typing import Sequence

import torch
import yaml

from detectron2.config import CfgNode, get_cfg
from detectron2.modeling import META_ARCH_REGISTRY, SemanticSegmentor

from ..config import add_noisy_seg_config
from ..config.defaults import OPTIMIZERS
from ..data import NoisyDatasetMapper, NoisySemSegDatasetMapper
from ..data.datasets.coco_files import check_loss_weights
from ..utils.errors import UserInputError, did_you_mean
from .config_files import read_yaml_safely
from .config_checks import check_weights_name, check_yacs_mask_loss, check_yacs_sem_seg_loss

__all__ = ["is_yacs_config", "load_yacs_config", "train_mapper_class"]

logger = logging.getLogger("noisy_seg")

# key, minimum: the yacs keys of config_checks._INT_KEYS (train.max_iter, dataloader.train.total_batch_size,
# train.checkpointer.period, train.eval_period, dataloader.*.num_workers); detectron2 fails deep inside on others
_INT_KEYS = (
    ("SOLVER.MAX_ITER", 1),
    ("SOLVER.IMS_PER_BATCH", 1),
    ("SOLVER.CHECKPOINT_PERIOD", 1),
    ("TEST.EVAL_PERIOD", 0),
    ("DATALOADER.NUM_WORKERS", 0),
    ("SOLVER.WARMUP_ITERS", 0),
)


def is_yacs_config(config_file: str) -> bool:
    """Whether `config_file` is a yacs config: a yaml file with `_BASE_` or upper-case top-level keys (MODEL,
    INPUT, SOLVER, ...). A LazyConfig's saved config.yaml has lower-case ones (model, train, dataloader)."""
    if not config_file.endswith((".yaml", ".yml")) or not os.path.isfile(config_file):
        return False
    try:
        with open(config_file) as f:
            root = yaml.compose(f)  # parsed, not constructed: any tag is fine
    except yaml.YAMLError as err:
        raise UserInputError(f"{config_file} is not valid YAML: {' '.join(str(err).split())}") from None
    return isinstance(root, yaml.MappingNode) and any(str(key.value).isupper() for key, _ in root.value)


def load_yacs_config(config_file: str, opts: Sequence[str]) -> CfgNode:
    """detectron2's defaults + `add_noisy_seg_config` + `config_file` (with its `_BASE_` chain) + the `opts`
    (`KEY VALUE ...`), frozen; MODEL.DEVICE moves to cpu when no GPU is present. The train mapper is built once
    here, so that a bad label noise name or spec is an error before any process starts."""
    cfg = add_noisy_seg_config(get_cfg())
    _merge(cfg, lambda: _CheckedYaml.load_yaml_with_base(config_file), config_file)  # every file of the chain
    _merge(cfg, lambda: cfg.merge_from_file(config_file, allow_unsafe=False), config_file)
    _merge(cfg, lambda: cfg.merge_from_list(list(opts or [])), "the command line")
    if cfg.SOLVER.OPTIMIZER not in OPTIMIZERS:
        raise UserInputError(f"SOLVER.OPTIMIZER={cfg.SOLVER.OPTIMIZER!r}: choose one of {', '.join(OPTIMIZERS)}")
    _check_numbers(cfg)
    if cfg.MODEL.DEVICE.startswith("cuda") and not torch.cuda.is_available():
        logger.info("No GPU found: training and evaluating on CPU.")
        cfg.MODEL.DEVICE = "cpu"
    _check_label_noise(cfg)
    check_yacs_sem_seg_loss(cfg)  # the semantic head's loss string, before any run folder
    check_yacs_mask_loss(cfg)
    check_weights_name(cfg.MODEL.WEIGHTS)
    cfg.freeze()
    return cfg


def check_yacs_datasets(cfg: CfgNode, *, eval_only: bool) -> None:
    """Training needs DATASETS.TRAIN and evaluation DATASETS.TEST (detectron2 would stop on a bare assert); training
    with MODEL.ROI_BOX_HEAD.ANNOTATION_LOSS_WEIGHTS needs annotations that carry "loss_weight"."""
    key = "TEST" if eval_only else "TRAIN"
    if not cfg.DATASETS[key]:
        raise UserInputError(
            f"DATASETS.{key} is empty: name the registered dataset(s) to "
            f"{'evaluate' if eval_only else 'train'} on, e.g. DATASETS.{key} "
            f"\"('toy_shapes_{'val' if eval_only else 'train'}',)\""
        )
    if not eval_only and cfg.MODEL.ROI_BOX_HEAD.get("ANNOTATION_LOSS_WEIGHTS", False):
        check_loss_weights(list(cfg.DATASETS.TRAIN), "DATASETS.TRAIN")


def train_mapper_class(cfg):
    """The noisy mapper of the config's task: NoisySemSegDatasetMapper for a SemanticSegmentor (and subclasses,
    MODEL.META_ARCHITECTURE), else NoisyDatasetMapper (instance annotations)."""
    try:
        architecture = META_ARCH_REGISTRY.get(cfg.MODEL.META_ARCHITECTURE)
    except KeyError:  # reported where detectron2 builds the model
        return NoisyDatasetMapper
    semantic = isinstance(architecture, type) and issubclass(architecture, SemanticSegmentor)
    return NoisySemSegDatasetMapper if semantic else NoisyDatasetMapper


class _CheckedYaml(CfgNode):
    """detectron2's reading of a yacs file and its `_BASE_` chain (fvcore resolves and merges the bases, calling
    this for each), with yaml.safe_load only and each file checked first: one line naming the file for a Python
    tag, a file that is not text, or one that is not a mapping of keys."""

    @classmethod
    def load_yaml_with_base(cls, filename, allow_unsafe=False):
        _check_yaml_file(filename)
        return super().load_yaml_with_base(filename, allow_unsafe=False)


def _check_yaml_file(filename: str) -> None:
    if not os.path.isfile(filename):
        raise UserInputError(f"config file {filename} does not exist (a _BASE_ is relative to the file naming it)")
    content = read_yaml_safely(filename, "yacs config", hint="check --config-file and the _BASE_ naming it")
    if not isinstance(content, dict):
        raise UserInputError(
            f"{filename} is not a yacs config (a YAML mapping of MODEL, INPUT, SOLVER, ... keys); "
            "check --config-file and the _BASE_ naming it"
        )
    bases = content.get("_BASE_", [])
    if not isinstance(bases, (str, list)) or not all(isinstance(base, str) for base in bases):
        raise UserInputError(f"{filename}: _BASE_ must be a config file path or a list of them, got {bases!r}")


def _check_numbers(cfg: CfgNode) -> None:
    """Counts and the learning rate in range, as config_checks checks the LazyConfig's (one line, before any
    process starts, not an fvcore ValueError or a division by zero mid-training)."""
    for key, minimum in _INT_KEYS:
        section, name = key.split(".")
        value = cfg[section][name]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise UserInputError(f"{key} must be an int >= {minimum}, got {value!r}")
    lr = cfg.SOLVER.BASE_LR
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (lr > 0 and math.isfinite(lr)):
        raise UserInputError(f"SOLVER.BASE_LR must be a number > 0, got {lr!r}")


def _merge(cfg: CfgNode, merge, source: str) -> None:
    """Run a yacs merge; its errors (KeyError, AssertionError, ValueError, a missing file, a _BASE_ cycle) as one
    line."""
    try:
        merge()
    except UserInputError:
        raise
    except RecursionError:
        raise UserInputError(f"{source}: its _BASE_ chain loops back on itself") from None
    except (KeyError, AssertionError, ValueError, OSError, yaml.YAMLError) as err:
        message = " ".join(str(err.args[0] if isinstance(err, KeyError) and err.args else err).split())
        for prefix in ("Non-existent config key: ", "Non-existent key: "):
            if message.startswith(prefix):
                key = message[len(prefix) :]
                raise UserInputError(f"unknown config key {key} ({source}).{_suggest(cfg, key)}") from None
        raise UserInputError(f"{source}: {message}") from None


def _suggest(cfg: CfgNode, key: str) -> str:
    depth = key.count(".")
    return did_you_mean(key, [k for k in _full_keys(cfg) if k.count(".") == depth])


def _full_keys(node: CfgNode, prefix: str = "") -> list[str]:
    keys = []
    for name, value in node.items():
        keys.append(prefix + name)
        if isinstance(value, CfgNode):
            keys += _full_keys(value, f"{prefix}{name}.")
    return keys


def _check_label_noise(cfg: CfgNode) -> None:
    try:
        train_mapper_class(cfg)(cfg, is_train=True)
    except ValueError as err:
        message = " ".join(str(err).split())
        if "INPUT.LABEL_NOISE" not in message:
            given = f"INPUT.LABEL_NOISE {cfg.INPUT.LABEL_NOISE}" if cfg.INPUT.LABEL_NOISE else "INPUT.LABEL_NOISE_SPEC"
            message = f"{given}: {message}"
        raise UserInputError(message) from None
