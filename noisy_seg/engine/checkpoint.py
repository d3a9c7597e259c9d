"""Checkpoints that are never silently wrong and never unsafe: detectron2's checkpointer and its periodic hook,
with

- pickles refused: a `.pkl` checkpoint is unpickled by detectron2, which runs whatever code it holds; it loads
  only when the user opts in (LazyConfig: `train.allow_pickle_checkpoints=True`, yacs:
  `MODEL.ALLOW_PICKLE_CHECKPOINTS True`). `.pth` files load with `torch.load(weights_only=True)`, which runs no code;
- strict loading for evaluation: weights that do not fit the model (another num_classes, another backbone)
  are an error, not a warning followed by an evaluation of a half-random model;
- atomic saves: a checkpoint is written under a temporary name and renamed, so a kill mid-save never
  leaves a truncated file under a checkpoint's name;
- resuming that survives a truncated or missing last checkpoint (it falls back to the newest readable one),
  and a periodic hook that keeps `max_to_keep` across kill + resume.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import struct
import zipfile
from typing import NamedTuple

import torch

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.engine import hooks

from ..utils.errors import UserInputError
from ..utils.files import atomic_output

__all__ = [
    "LAZYCONFIG_KEYS",
    "TOOL_KEYS",
    "YACS_KEYS",
    "ConfigKeys",
    "SafeCheckpointer",
    "ResumablePeriodicCheckpointer",
    "checkpoint_iteration",
]

logger = logging.getLogger("noisy_seg")

_PERIODIC_NAME = re.compile(r"^model_(\d{7})\.pth$")
_FINAL_NAME = "model_final.pth"
# what reading a damaged or missing checkpoint raises (torch.load, fvcore's existence assert); a refused pickle's
# UserInputError is a ValueError too: handlers re-raise it first, so its line reaches the user as it is
UNREADABLE = (
    RuntimeError,
    EOFError,
    OSError,
    pickle.UnpicklingError,
    AssertionError,
    zipfile.BadZipFile,
    ValueError,
    KeyError,
    struct.error,
)


class ConfigKeys(NamedTuple):
    """How a config kind (or a tool) sets the weights and the pickle opt-in, as the error lines tell the user to."""

    weights: str  # followed by a path
    allow_pickle: str
    named: str = "weights"  # how an error line names the weights given


LAZYCONFIG_KEYS = ConfigKeys(weights="train.init_checkpoint=", allow_pickle="train.allow_pickle_checkpoints=True")
YACS_KEYS = ConfigKeys(weights="MODEL.WEIGHTS ", allow_pickle="MODEL.ALLOW_PICKLE_CHECKPOINTS True")
TOOL_KEYS = ConfigKeys(weights="--weights ", allow_pickle="train.allow_pickle_checkpoints=True", named="--weights")


def checkpoint_iteration(file_name: str):
    """Iteration of a periodic checkpoint's file name (`model_0000249.pth` -> 249), inf for model_final.pth,
    None for other names."""
    match = _PERIODIC_NAME.match(os.path.basename(file_name))
    if match:
        return int(match.group(1))
    return float("inf") if os.path.basename(file_name) == _FINAL_NAME else None


class SafeCheckpointer(DetectionCheckpointer):
    """DetectionCheckpointer that refuses pickles unless `allow_pickle`, loads `.pth` without running code,
    saves atomically, and can check that loaded weights fit the model (`load_strict`). `keys`: the config keys its
    error lines name (the LazyConfig's or yacs')."""

    def __init__(self, model, save_dir="", *, allow_pickle: bool = False, keys: ConfigKeys = LAZYCONFIG_KEYS, **kwargs):
        super().__init__(model, save_dir, **kwargs)
        self.allow_pickle = allow_pickle
        self.keys = keys
        self.last_incompatible = None
        self._strict = False

    def load(self, path, *args, **kwargs):
        try:
            return super().load(path, *args, **kwargs)
        finally:  # detectron2 resets this only on success; a failed load would break every later one
            self._parsed_url_during_load = None

    def _load_file(self, filename):
        if filename.endswith(".pkl") and not self.allow_pickle:
            raise UserInputError(
                f"{filename} is a pickle: loading it runs any code it contains. If you trust where it comes from "
                f"(e.g. detectron2's model zoo), opt in with {self.keys.allow_pickle}"
            )
        return super()._load_file(filename)

    def _torch_load(self, f):
        return torch.load(f, map_location=torch.device("cpu"), weights_only=True)

    def _load_model(self, checkpoint):
        self.last_incompatible = super()._load_model(checkpoint)
        return self.last_incompatible

    def save(self, name: str, **kwargs) -> None:
        if not self.save_dir or not self.save_to_disk:
            return
        # fvcore writes `<its name>.pth` in save_dir: name it after the temp file atomic_output hands out
        with atomic_output(os.path.join(self.save_dir, f"{name}.pth"), suffix=".pth") as temp:
            super().save(temp.name[: -len(".pth")], **kwargs)
        self.tag_last_checkpoint(f"{name}.pth")  # fvcore tagged the temp name

    def load_strict(self, path: str) -> dict:
        """Load weights to evaluate or use: every parameter of the model must come from `path` with its shape, and
        every parameter in `path` must be the model's (else one error naming the first few, where detectron2 would
        only warn and go on with a partly random model). The one strict loader: --eval-only and the tools use it."""
        named = f"{self.keys.named} {path}"
        if "://" not in path and not os.path.isfile(path):
            raise UserInputError(f"{named} not found: pass {self.keys.weights}<a model_final.pth>")
        self._strict = True
        try:
            extra = self.load(path, checkpointables=[])
        except UserInputError:
            raise  # a refused pickle
        except UNREADABLE as err:
            first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise UserInputError(f"{named} cannot be read as a checkpoint ({first_line})") from None
        finally:
            self._strict = False
        problems = _misfits(self.last_incompatible)
        if problems:
            raise UserInputError(
                f"{named} do not fit the model of the config: parameters {'; '.join(problems)}. Were "
                "they trained with another config (architecture, number of classes)? Use the config "
                "they were trained with"
            )
        return extra

    def _log_incompatible_keys(self, incompatible) -> None:
        if not self._strict:  # a strict load says it in its error instead
            super()._log_incompatible_keys(incompatible)

    def has_any_checkpoint(self) -> bool:
        """A `last_checkpoint` tag or any checkpoint file in the run folder (the tag may be gone after a kill)."""
        folder = self.save_dir
        return (
            bool(folder)
            and os.path.isdir(folder)
            and (self.has_checkpoint() or any(checkpoint_iteration(f) is not None for f in os.listdir(folder)))
        )

    def resume_newest_readable(self) -> dict:
        """Resume from the last checkpoint; if it is truncated or missing, from the newest readable one."""
        candidates = []
        tagged = self.get_checkpoint_file() if self.has_checkpoint() else ""
        if tagged:
            candidates.append(tagged)
        on_disk = [
            os.path.join(self.save_dir, f) for f in os.listdir(self.save_dir) if checkpoint_iteration(f) is not None
        ]
        candidates += [f for f in sorted(on_disk, key=checkpoint_iteration, reverse=True) if f not in candidates]
        for path in candidates:
            try:
                extra = self.load(path)
            except UserInputError:
                raise  # a refused pickle: said, not skipped for an older checkpoint
            except UNREADABLE as err:
                logger.warning(
                    "Cannot resume from %s (%s): trying the previous checkpoint.",
                    path,
                    str(err).splitlines()[0] if str(err) else type(err).__name__,
                )
                continue
            if path != tagged:
                logger.warning("Resumed from %s, the newest readable checkpoint.", path)
            return extra
        raise UserInputError(
            f"--resume: no readable checkpoint in {self.save_dir} (tried {len(candidates)}); drop --resume to "
            "start over, or point train.output_dir at the run to continue"
        )


class ResumablePeriodicCheckpointer(hooks.PeriodicCheckpointer):
    """detectron2's PeriodicCheckpointer hook that also counts the checkpoints a resumed run finds on disk, so
    `max_to_keep` still holds after kill + resume (the stock hook only counts what it saved itself)."""

    def before_train(self):
        super().before_train()
        if self.max_to_keep is None or not self.checkpointer.save_dir or not self.checkpointer.save_to_disk:
            return
        folder = self.checkpointer.save_dir
        earlier = [
            os.path.join(folder, f)
            for f in os.listdir(folder)
            if _PERIODIC_NAME.match(f) and checkpoint_iteration(f) < self.trainer.start_iter
        ]
        self.recent_checkpoints = sorted(earlier, key=checkpoint_iteration)
        while len(self.recent_checkpoints) > self.max_to_keep:
            os.remove(self.recent_checkpoints.pop(0))


def _misfits(incompatible) -> list[str]:
    """What does not fit, per kind (other shapes, missing from the file, not in the model), the first few named."""
    if incompatible is None:
        return []
    shapes, unexpected = incompatible.incorrect_shapes, incompatible.unexpected_keys
    missing = [key for key in incompatible.missing_keys if key not in {s[0] for s in shapes}]  # said once, as shapes
    problems = []
    if shapes:
        problems.append(
            f"{len(shapes)} with other shapes ("
            + _first(shapes, lambda s: f"{s[0]}: {tuple(s[1])} in the file, {tuple(s[2])} in the model")
            + ")"
        )
    if missing:
        problems.append(f"{len(missing)} missing from the file ({_first(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} not in the model ({_first(unexpected)})")
    return problems


def _first(items, describe=str) -> str:
    shown = ", ".join(describe(item) for item in items[:3])
    return shown + (", ..." if len(items) > 3 else "")
