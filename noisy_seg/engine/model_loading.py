"""A trained model for a tool: the LazyConfig's model with a checkpoint loaded strictly, and the config's test-time
input settings (tools/generate_pseudo_labels.py, tools/find_label_errors.py).

    model = build_model(cfg, "output/.../model_final.pth")   # weights of another architecture or class count: error
    evidence = ...(model, **mapper_settings(cfg))
"""

from __future__ import annotations

import torch

from detectron2.config import instantiate

from .checkpoint import TOOL_KEYS, SafeCheckpointer

__all__ = ["build_model", "load_weights", "mapper_settings"]


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


def _device(cfg) -> str:
    device = cfg.get("train", {}).get("device", "cuda")
    return device if not device.startswith("cuda") or torch.cuda.is_available() else "cpu"
