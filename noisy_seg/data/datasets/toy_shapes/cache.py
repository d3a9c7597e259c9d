"""The generated toy sets on disk: settings, a manifest, generation under a lock into a staging folder swapped in
whole, and reuse of a set that has what is asked."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock


from .layouts import _write_split
from .render import GENERATOR_VERSION, SPLIT_CODES, TOY_CLASSES

LAYOUTS = ("coco", "cityscapes")
MANIFEST_NAME = "MANIFEST.json"
SETTING_KEYS = ("seed", "num_train", "num_val", "image_size")  # what makes two toy sets different (not the layouts)
MAX_IMAGES = 200_000  # per split: a toy set, not a benchmark (about 6 GB of PNGs at 128 px)
MAX_IMAGE_SIZE = 1024


def _parse_layout(layout: str) -> tuple[str, ...]:
    if layout == "both":
        return LAYOUTS
    if layout in LAYOUTS:
        return (layout,)
    raise ValueError(f"layout must be 'coco', 'cityscapes' or 'both', got {layout!r}")


@dataclass(frozen=True)
class ToySettings:
    """What a toy set is generated with, checked on construction: ``write_toy_dataset`` and ``ensure_toy_dataset``
    take these fields (positionally or by name). ``layout`` is "coco", "cityscapes" or "both"."""

    seed: int = 0
    num_train: int = 512
    num_val: int = 96
    image_size: int = 128
    layout: str = "both"

    def __post_init__(self):
        for name, minimum, maximum in (
            ("seed", 0, 2**32 - 1),
            ("num_train", 1, MAX_IMAGES),
            ("num_val", 1, MAX_IMAGES),
            ("image_size", 64, MAX_IMAGE_SIZE),
        ):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not minimum <= value <= maximum:
                raise ValueError(f"{name} must be an int in [{minimum}, {maximum}], got {value!r}")
        _parse_layout(self.layout)

    def manifest(self) -> dict:
        """The MANIFEST.json content of a set with these settings (less its annotation counts)."""
        return {
            "name": "toy_shapes",
            "version": GENERATOR_VERSION,
            **{key: int(getattr(self, key)) for key in SETTING_KEYS},
            "layouts": list(_parse_layout(self.layout)),
            "classes": list(TOY_CLASSES),
        }


def read_manifest(root: str | os.PathLike) -> dict | None:
    """The MANIFEST.json of a complete data set under ``root``, or None if there is none."""
    try:
        return json.loads((Path(root) / MANIFEST_NAME).read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def _satisfies(existing: dict | None, wanted: dict) -> bool:
    if existing is None:
        return False
    same = all(existing.get(key) == wanted[key] for key in wanted if key != "layouts")
    return same and set(wanted["layouts"]) <= set(existing.get("layouts", []))


def _lock_for(root: Path) -> FileLock:
    return FileLock(str(root.parent / f".{root.name}.lock"))


def _generate_locked(root: Path, manifest: dict) -> dict:
    """Write into a staging folder beside ``root`` and swap it in; caller holds the lock."""
    existing = read_manifest(root)
    if root.exists() and any(root.iterdir()) and (existing is None or existing.get("name") != "toy_shapes"):
        # Replacing means deleting: never do that to a folder this module did not write.
        raise ValueError(f"{root} exists and is not a toy_shapes data set; pass a new or empty folder")
    for stale in root.parent.glob(f".{root.name}.staging-*"):  # left by a crashed run
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.staging-", dir=root.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it owner-only; the data set is meant to be shared
        start = time.perf_counter()
        layouts = tuple(manifest["layouts"])
        counts = {
            split: _write_split(
                staging, split, manifest["seed"], manifest[f"num_{split}"], manifest["image_size"], layouts
            )
            for split in SPLIT_CODES
        }
        # Written last: its presence is what marks the folder complete.
        (staging / MANIFEST_NAME).write_text(json.dumps({**manifest, "num_annotations": counts}, indent=1))
        retired = root.parent / f".{root.name}.retired-{uuid.uuid4().hex}"
        if root.exists():
            os.rename(root, retired)
        os.rename(staging, root)
        shutil.rmtree(retired, ignore_errors=True)
        return {"root": root, "seconds": time.perf_counter() - start, "num_annotations": counts}
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_toy_dataset(root: str | os.PathLike, *settings, **named_settings) -> dict:
    """(Re)generate the data set at ``root`` atomically with ``ToySettings(*settings, **named_settings)``; returns
    {"root", "seconds", "num_annotations"}."""
    manifest = ToySettings(*settings, **named_settings).manifest()
    root = Path(root).resolve()
    root.parent.mkdir(parents=True, exist_ok=True)
    with _lock_for(root):
        return _generate_locked(root, manifest)


def ensure_toy_dataset(root: str | os.PathLike, *settings, **named_settings) -> Path:
    """Path to a complete data set at ``root`` with ``ToySettings(*settings, **named_settings)``, generating it if
    there is none (or one of an older generator version, or without a requested layout). A set generated with
    OTHER settings is never replaced: that raises ValueError. Safe to call from several processes at once (file
    lock)."""
    wanted = ToySettings(*settings, **named_settings).manifest()
    root = Path(root).resolve()
    if _satisfies(read_manifest(root), wanted):
        return root
    _refuse_other_settings(root, read_manifest(root), wanted)
    root.parent.mkdir(parents=True, exist_ok=True)
    with _lock_for(root):
        existing = read_manifest(root)
        if not _satisfies(existing, wanted):  # another process may have finished it
            _refuse_other_settings(root, existing, wanted)
            if existing is not None:  # same settings: an older generator version or fewer layouts
                wanted = {**wanted, "layouts": sorted(set(wanted["layouts"]) | set(existing.get("layouts", [])))}
            _generate_locked(root, wanted)
    return root


def _refuse_other_settings(root: Path, existing: dict | None, wanted: dict) -> None:
    """A set generated with other settings is someone's data: never replace it behind their back."""
    if existing is None or all(existing.get(key) == wanted[key] for key in SETTING_KEYS):
        return
    have = ", ".join(f"{key}={existing.get(key)}" for key in SETTING_KEYS)
    want = ", ".join(f"{key}={wanted[key]}" for key in SETTING_KEYS)
    raise ValueError(
        f"toy data at {root} was generated with {have}, not the requested {want}; it is left as it is. "
        "Generate sets with other settings into their own folder (tools/generate_toy_data.py picks one) and "
        "train on them by name (see datasets/README.md), or remove the folder to regenerate it"
    )
