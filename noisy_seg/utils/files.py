"""Files the tools write: one atomic-write helper, and fast json I/O (orjson).

Every output goes to a temp file beside its target, is flushed to disk, then takes the target's name with
`os.replace`: a crash leaves the old file or the new one, never half of one. Plain Python (no torch, no
detectron2), so the noise core may use it.
"""
from __future__ import annotations

import contextlib
import gc
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Union

import orjson

__all__ = ["atomic_output", "gc_paused", "load_json", "save_json_atomic", "write_atomic"]

PathLike = Union[str, os.PathLike]


@contextlib.contextmanager
def atomic_output(path: PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yields a temp path beside `path` (same folder, so the rename is atomic; `suffix` keeps the extension a
    writer such as cv2.imwrite or matplotlib reads the format from). When the block ends without error the
    temp file is flushed to disk and renamed to `path`; on error it is removed and `path` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    temp = Path(temp_name)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
        yield temp
        with open(temp, "rb+") as written:
            os.fsync(written.fileno())  # on disk before it takes the name
        os.replace(temp, path)
        _fsync_folder(path.parent)
    finally:
        if temp.exists():
            temp.unlink()


def write_atomic(path: PathLike, data: Union[bytes, str, Callable[[Path], None]]) -> Path:
    """Write bytes, text, or whatever `data(temp_path)` writes, to `path` atomically; returns `path`."""
    with atomic_output(path, suffix=Path(path).suffix or ".tmp") as temp:
        if callable(data):
            data(temp)
        elif isinstance(data, str):
            temp.write_text(data)
        else:
            temp.write_bytes(data)
    return Path(path)


def save_json_atomic(obj, path: PathLike, indent: bool = False) -> Path:
    """json (orjson; numpy arrays and scalars allowed) written atomically."""
    option = orjson.OPT_SERIALIZE_NUMPY | (orjson.OPT_INDENT_2 if indent else 0)
    return write_atomic(path, orjson.dumps(obj, option=option))


def load_json(path: PathLike):
    """Read a json file with orjson."""
    return orjson.loads(Path(path).read_bytes())


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector: building millions of acyclic dicts/lists otherwise triggers repeated
    full-heap collections (about half the run time at COCO scale)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _fsync_folder(folder: Path) -> None:
    """Persist a rename (POSIX: the folder's entry); a no-op where folders cannot be opened."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
