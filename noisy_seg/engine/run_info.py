"""What a run actually trains with, resolved when it starts: its loss schedule and label noise.

Written to `<output_dir>/run_info.json` so that tables (tools/run_grid.py) describe each run from what ran, not
from what its config name promises; a configured loss that never becomes active is logged as a warning.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Optional

from omegaconf import DictConfig, ListConfig, OmegaConf

from ..utils.files import write_atomic

logger = logging.getLogger("noisy_seg")

RUN_INFO_NAME = "run_info.json"


def _configurable_losses(model) -> list:
    """The box predictors (cls_loss_name) and semantic losses (loss_name) whose loss is configured, in model order."""
    return [
        m
        for m in model.modules()
        if hasattr(m, "loss_switch_iter") and (hasattr(m, "cls_loss_name") or hasattr(m, "loss_name"))
    ]


def loss_schedule(model, start_iter: int, stop_iter: int) -> Optional[dict]:
    """The configurable loss (box classifier's, or semantic head's) over iterations [start_iter, stop_iter) of this
    run, or None without one: {"loss", "switch_iter", "ce_iters": [a, b) or None, "loss_iters": [a, b) or None}."""
    losses = _configurable_losses(model)
    if not losses:
        return None
    first = losses[0]  # cascade stages share one configuration
    name, switch = getattr(first, "cls_loss_name", None) or first.loss_name, first.loss_switch_iter
    if name == "ce":
        return {"loss": "ce", "switch_iter": 0, "ce_iters": [start_iter, stop_iter], "loss_iters": None}
    first_robust = min(max(start_iter, switch), stop_iter)
    return {
        "loss": name,
        "switch_iter": switch,
        "ce_iters": [start_iter, first_robust] if first_robust > start_iter else None,
        "loss_iters": [first_robust, stop_iter] if first_robust < stop_iter else None,
    }


def loss_owner(model) -> str:
    """Whose loss `loss_schedule` describes, for the log: "Box classifier", "Semantic head", or "Model" for a model
    with neither (e.g. RetinaNet)."""
    losses = _configurable_losses(model)
    if losses:
        return "Box classifier" if hasattr(losses[0], "cls_loss_name") else "Semantic head"
    children = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}  # a stock model: by its heads
    return "Box classifier" if "roi_heads" in children else "Semantic head" if "sem_seg_head" in children else "Model"


def describe_schedule(schedule: Optional[dict]) -> str:
    """One line, e.g. "CE for iterations 0-249, then combination for 250-499"."""
    if schedule is None:
        return "CE (stock head)"
    parts = []
    if schedule["ce_iters"]:
        a, b = schedule["ce_iters"]
        parts.append(f"CE for iterations {a}-{b - 1}")
    if schedule["loss_iters"]:
        a, b = schedule["loss_iters"]
        parts.append(f"{schedule['loss'] if schedule['loss'] != 'ce' else 'CE'} for iterations {a}-{b - 1}")
    text = ", then ".join(parts)
    if schedule["loss"] != "ce" and not schedule["loss_iters"]:
        text += f" ({schedule['loss']} configured from iteration {schedule['switch_iter']}: never active)"
    return text


def plain(value):
    """OmegaConf containers -> plain json-friendly values (interpolations resolved)."""
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def warn_if_loss_never_active(schedule: Optional[dict]) -> None:
    if schedule and schedule["loss"] != "ce" and not schedule["loss_iters"]:
        ce = schedule["ce_iters"] or [0, 0]
        logger.warning(
            "\n" + "!" * 100 + f"\nThe configured loss '{schedule['loss']}' NEVER becomes active in this run: it "
            f"starts at iteration {schedule['switch_iter']} but the run stops at iteration {ce[1]}. It trains CE "
            "only. Lower loss_switch_iter (or use fraction_of_max_iter) or raise train.max_iter.\n" + "!" * 100
        )


def write_run_info(output_dir: str, info: dict) -> str:
    """Write `info` as json to <output_dir>/run_info.json atomically; returns the path."""
    path = os.path.join(output_dir, RUN_INFO_NAME)
    write_atomic(path, json.dumps(info, indent=1))
    return path


def read_run_info(output_dir) -> dict:
    """The run_info.json of a run folder ({} if there is none)."""
    try:
        with open(os.path.join(output_dir, RUN_INFO_NAME)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
