"""A trained model for a workflow: the config's model with a checkpoint loaded by the one strict loader
(`SafeCheckpointer.load_strict`, which --eval-only uses too), the config's test-time input settings, and the one
check that the model fits the dataset it is run over (its class count, its mask head), made once at the edge.

    model = build_model(cfg, "output/.../model_final.pth")   # weights of another architecture or class count: error
    check_fits(predicted_classes(model), len(class_names), dataset_name)
"""

from __future__ import annotations

import copy
from typing import Optional

import torch
from omegaconf import OmegaConf

from detectron2.config import instantiate

from ..engine.checkpoint import TOOL_KEYS, SafeCheckpointer
from ..utils.errors import UserInputError

__all__ = [
    "build_model",
    "check_fits",
    "check_mask_head",
    "configured_classes",
    "configured_mask_head",
    "load_weights",
    "mapper_settings",
    "on_cpu",
    "predicted_classes",
]


def load_weights(model, weights: str, allow_pickle: bool) -> None:
    """Load `weights` into `model` strictly (`SafeCheckpointer.load_strict`, the loader --eval-only uses): every key
    must match in name and shape, else one error naming the first few."""
    SafeCheckpointer(model, allow_pickle=allow_pickle, keys=TOOL_KEYS).load_strict(weights)


def build_model(cfg, weights: str):
    """The config's model (instantiate), on `train.device` (CPU when no GPU is present), `weights` loaded strictly,
    in eval mode."""
    model = instantiate(cfg.model)
    model.to(_device(cfg))
    load_weights(model, weights, allow_pickle=bool(cfg.get("train", {}).get("allow_pickle_checkpoints", False)))
    return model.eval()


def on_cpu(cfg):
    """A copy of the LazyConfig whose model is built on the CPU (a check of the weights before processes start)."""
    cfg = copy.deepcopy(cfg)
    cfg.train.device = "cpu"
    return cfg


def mapper_settings(cfg) -> dict:
    """The augmentations and image format of the config's test mapper (dataloader.test.mapper); none given when it
    has none, so each task's own defaults apply."""
    mapper = cfg.get("dataloader", {}).get("test", {}).get("mapper", None)
    if mapper is None:
        return {}
    return {
        "augmentations": list(instantiate(mapper.get("augmentations", []))),
        "image_format": mapper.get("image_format", "BGR"),
    }


def predicted_classes(model) -> Optional[int]:
    """The number of classes a built model predicts: its ROI heads' (instance) or its semantic head's predictor's
    output channels; None when it has neither."""
    classes = getattr(getattr(model, "roi_heads", None), "num_classes", None)
    if classes is None:
        predictor = getattr(getattr(model, "sem_seg_head", None), "predictor", None)
        classes = getattr(predictor, "out_channels", None)
    return classes


def configured_classes(cfg) -> Optional[int]:
    """The number of classes the LazyConfig's model will predict, read without building it (None: not stated)."""
    for key in ("model.roi_heads.num_classes", "model.sem_seg_head.num_classes"):
        classes = OmegaConf.select(cfg, key, default=None)
        if classes is not None:
            return classes
    return None


def configured_mask_head(cfg) -> bool:
    """Whether the LazyConfig's model has a mask head (mask_in_features given), without building it."""
    return OmegaConf.select(cfg, "model.roi_heads.mask_in_features", default=None) is not None


def check_fits(model_classes: Optional[int], dataset_classes: int, dataset: str) -> None:
    """The one class-count check of a model against a dataset (None: the model does not say; nothing to check)."""
    if model_classes is not None and model_classes != dataset_classes:
        raise UserInputError(
            f"the model predicts {model_classes} classes but dataset '{dataset}' has {dataset_classes}; use the "
            "config the weights were trained with"
        )


def check_mask_head(mask_on: bool, option: str) -> None:
    """`option` (a flag or argument that scores masks) needs a model with a mask head."""
    if not mask_on:
        raise UserInputError(f"{option} needs a model with a mask head")


def _device(cfg) -> str:
    device = cfg.get("train", {}).get("device", "cuda")
    return device if not device.startswith("cuda") or torch.cuda.is_available() else "cpu"
