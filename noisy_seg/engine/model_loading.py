"""A trained model for a tool: the LazyConfig's model with a checkpoint loaded strictly, and the config's test-time
input settings (tools/generate_pseudo_labels.py, tools/find_label_errors.py).

    model = build_model(cfg, "output/.../model_final.pth")   # weights of another architecture or class count: error
    evidence = ...(model, **mapper_settings(cfg))
"""
from __future__ import annotations

import torch

from detectron2.config import instantiate

from ..utils.errors import UserInputError
from .checkpoint import UNREADABLE, SafeCheckpointer

__all__ = ["build_model", "load_weights", "mapper_settings"]


class _CheckedCheckpointer(SafeCheckpointer):
    """detectron2's reading and matching of weights (module. prefix, pixel_mean/std, Caffe2 names) without its
    warning about keys that do not fit: `load_weights` makes them an error."""

    def _log_incompatible_keys(self, incompatible) -> None:
        pass


def load_weights(model, weights: str, allow_pickle: bool) -> None:
    """Load `weights` into `model`; every key must match in name and shape (else one error naming the first few,
    where detectron2 would only warn and go on with a partly random model)."""
    checkpointer = _CheckedCheckpointer(model, allow_pickle=allow_pickle)
    try:
        checkpointer.load(weights, checkpointables=[])
        incompatible = checkpointer.last_incompatible
    except UserInputError:
        raise  # a refused pickle
    except UNREADABLE as err:
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserInputError(f"--weights {weights} cannot be read as a checkpoint ({first_line})") from None
    shapes, unexpected = incompatible.incorrect_shapes, incompatible.unexpected_keys
    missing = [key for key in incompatible.missing_keys if key not in {s[0] for s in shapes}]  # said once, as shapes
    problems = []
    if shapes:
        problems.append(f"{len(shapes)} with other shapes ("
                        + _first(shapes, lambda s: f"{s[0]}: {tuple(s[1])} in the file, {tuple(s[2])} in the model")
                        + ")")
    if missing:
        problems.append(f"{len(missing)} missing from the file ({_first(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} not in the model ({_first(unexpected)})")
    if problems:
        raise UserInputError(f"--weights {weights} do not fit the model of the config: parameters "
                             f"{'; '.join(problems)}. Were they trained with another config (architecture, number of "
                             "classes)?")


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
    return {"augmentations": list(instantiate(mapper.get("augmentations", []))),
            "image_format": mapper.get("image_format", "BGR")}


def _device(cfg) -> str:
    device = cfg.get("train", {}).get("device", "cuda")
    return device if not device.startswith("cuda") or torch.cuda.is_available() else "cpu"


def _first(items, describe=str) -> str:
    shown = ", ".join(describe(item) for item in items[:3])
    return shown + (", ..." if len(items) > 3 else "")
