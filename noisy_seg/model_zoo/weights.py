"""Pretrained weights shipped with the package, by name, as detectron2 resolves `detectron2://` names:
`noisy_seg://<name>` (e.g. `train.init_checkpoint="noisy_seg://backbones/R18_tiny_corpus.pth"`, or yacs
`MODEL.WEIGHTS noisy_seg://backbones/R18_tiny_corpus.pth`) is the file `weights/<name>` of this package, checked
against the sha256 its manifest `weights/<name>.json` records, beside the settings and the command that made it
(tools/pretrain_backbone.py writes both: backbones pretrained here on a procedural corpus, as no weights can be
downloaded).

Registered with detectron2's PathManager when `noisy_seg.model_zoo` is imported (tools/train_net.py and every
noisy_seg config do). An unknown name, a missing file or one whose content is not the recorded one is one
UserInputError line that says how to get the right one.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from iopath.common.file_io import PathHandler

from detectron2.utils.file_io import PathManager

from ..utils.errors import UserInputError
from ..utils.files import file_sha256, load_json

__all__ = ["PREFIX", "WEIGHTS_ROOT", "NoisySegHandler", "pretrained_weights_file", "weights_index"]

PREFIX = "noisy_seg://"
WEIGHTS_ROOT = Path(__file__).parent / "weights"

_verified: dict = {}  # path -> (size, mtime) of files whose sha256 was checked in this process


def weights_index() -> dict:
    """{name: manifest} of the shipped weights: every `weights/<name>.json`."""
    return {
        manifest.relative_to(WEIGHTS_ROOT).as_posix()[: -len(".json")]: load_json(manifest)
        for manifest in sorted(WEIGHTS_ROOT.rglob("*.json"))
    }


def pretrained_weights_file(name: str) -> Path:
    """The local file of the shipped weights `name` (`backbones/R18_tiny_corpus.pth`), its sha256 checked once per
    process; one UserInputError line for an unknown name, a missing file or another content."""
    relative = PurePosixPath(name)
    manifest = WEIGHTS_ROOT / f"{name}.json"
    if not name or relative.is_absolute() or ".." in relative.parts or not manifest.is_file():
        known = ", ".join(PREFIX + known for known in weights_index()) or "none"
        raise UserInputError(f"{PREFIX}{name} names no weights shipped with noisy_seg; known: {known}")
    entry, path = load_json(manifest), WEIGHTS_ROOT / relative
    if not path.is_file():
        raise UserInputError(
            f"{PREFIX}{name}: {path} is missing; reinstall noisy_seg, or make it again with `{entry['command']}`"
        )
    stat = path.stat()
    if _verified.get(str(path)) != (stat.st_size, stat.st_mtime_ns):
        digest = file_sha256(path)
        if digest != entry["sha256"]:
            raise UserInputError(
                f"{PREFIX}{name}: {path} is not the file noisy_seg shipped (sha256 {digest[:12]}..., "
                f"expected {entry['sha256'][:12]}...): it is damaged or was replaced; reinstall "
                f"noisy_seg, or make it again with `{entry['command']}`"
            )
        _verified[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return path


class NoisySegHandler(PathHandler):
    """`noisy_seg://<name>` -> the shipped weights file (read-only)."""

    def _get_supported_prefixes(self):
        return [PREFIX]

    def _get_local_path(self, path: str, **kwargs) -> str:
        return str(pretrained_weights_file(path[len(PREFIX) :]))

    def _open(self, path: str, mode: str = "rb", **kwargs):
        if any(flag in mode for flag in "wax+"):
            raise UserInputError(f"{path}: shipped weights are read-only")
        return open(self._get_local_path(path), mode)

    def _exists(self, path: str, **kwargs) -> bool:
        return (WEIGHTS_ROOT / f"{path[len(PREFIX) :]}.json").is_file()

    def _isfile(self, path: str, **kwargs) -> bool:
        return self._exists(path)


PathManager.register_handler(NoisySegHandler())
