"""Files the tools write: one atomic-write helper, a checked image writer, and fast json I/O (orjson).

Every output goes to a temp file beside its target, is flushed to disk, then takes the target's name with
`os.replace`: a crash leaves the old file or the new one, never half of one. Plain Python (no torch, no
detectron2), so the noise core may use it.

Temp files are named `.noisy_seg-tmp.<target name>.<random><suffix>` (TEMP_PREFIX) and locked (flock) by their
writer while it lives. A killed writer leaves its temp file behind, unlocked: the first write of a later process
into that folder removes it, and tools that resume or rewrite a folder sweep it explicitly
(`remove_stale_temp_files`). A temp file that a live process, this one or a concurrent run, is writing stays
locked and is left alone (a lock, not an age: the kernel drops it when its holder dies, even by SIGKILL, and a
slow writer keeps it); files not named with TEMP_PREFIX are never touched. Without flock (Windows) nothing is
judged stale.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, Union

import orjson

try:
    import fcntl
except ImportError:  # no flock (Windows): temp files are still written, but never judged stale
    fcntl = None

__all__ = [
    "TEMP_PREFIX",
    "atomic_output",
    "file_sha256",
    "gc_paused",
    "is_temp_file",
    "load_json",
    "png_is_complete",
    "remove_stale_temp_files",
    "save_json_atomic",
    "save_figure",
    "save_json_streamed",
    "write_atomic",
    "write_image",
]

PathLike = Union[str, os.PathLike]

TEMP_PREFIX = ".noisy_seg-tmp."
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the IEND chunk every PNG ends with (length 0, type, CRC)

_swept_folders: set[str] = set()  # folders this process has already cleared of stale temp files
_swept_lock = threading.Lock()


@contextlib.contextmanager
def atomic_output(path: PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yields a temp path beside `path` (same folder, so the rename is atomic; `suffix` keeps the extension a
    writer such as matplotlib reads the format from). When the block ends without error the temp file is flushed
    to disk and renamed to `path`; on error it is removed and `path` is untouched. An OSError names `path` (not
    the hidden temp file): "could not write <path>: <reason>"."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _sweep_once(path.parent)
        handle, temp = _locked_temp_file(path, suffix)
    except OSError as err:
        raise _naming(err, path) from err
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
        yield temp
        with open(temp, "rb+") as written:
            os.fsync(written.fileno())  # on disk before it takes the name
        os.replace(temp, path)
        _fsync_folder(path.parent)
    except OSError as err:
        raise _naming(err, path) from err
    finally:
        if temp.exists():
            temp.unlink()
        if handle is not None:
            os.close(handle)  # releases the lock, after the temp file is renamed or gone


def write_atomic(path: PathLike, data: Union[bytes, str, Callable[[Path], None]]) -> Path:
    """Write bytes (or any buffer), text, or whatever `data(temp_path)` writes, to `path` atomically; returns
    `path`."""
    with atomic_output(path, suffix=Path(path).suffix or ".tmp") as temp:
        if callable(data):
            data(temp)
        elif isinstance(data, str):
            temp.write_text(data)
        else:
            temp.write_bytes(data)
    return Path(path)


def write_image(path: PathLike, image, params: Sequence[int] = ()) -> Path:
    """Write a numpy image atomically in the format of `path`'s suffix (OpenCV's encoders, `params` as for
    cv2.imwrite); returns `path`. Raises OSError naming `path` when it cannot be encoded or written whole; then
    nothing takes its name.

    Not cv2.imwrite: it writes through a buffered C file whose failed final flush it ignores, so on a full disk it
    returns True for an empty or cut-off file. The encoded bytes are written by Python, which raises instead, and
    the written size is checked before the rename (one stat) against a writer that says it wrote what it did not."""
    import cv2  # only images need OpenCV; json writers do not load it

    path = Path(path)
    try:
        encoded, data = cv2.imencode(path.suffix, image, list(params))
    except cv2.error as err:
        raise OSError(
            f"could not write {path}: OpenCV cannot encode it ({str(err).strip().splitlines()[-1]})"
        ) from None
    if not encoded:
        raise OSError(
            f"could not write {path}: OpenCV cannot encode a {image.dtype} {image.shape} array as {path.suffix}"
        )
    with atomic_output(path, suffix=path.suffix) as temp:
        temp.write_bytes(data)
        written = temp.stat().st_size
        if written != data.size:
            raise OSError(f"wrote {written} of {data.size} bytes")
    return path


def save_figure(figure, path: PathLike, dpi: Union[int, str] = 110) -> Path:
    """A matplotlib figure written to `path` (its suffix names the format) atomically; returns `path`. `dpi`: as
    savefig's ("figure": the figure's own)."""
    with atomic_output(path, suffix=Path(path).suffix or ".png") as temp:
        figure.savefig(temp, dpi=dpi)
    return Path(path)


def png_is_complete(path: PathLike) -> bool:
    """Whether `path` is a PNG written to its end (its signature first, the IEND chunk last): a cheap check, two
    small reads, that an earlier run's file is whole (a crash or a full disk leaves empty or cut-off files)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_PNG_SIGNATURE))
            handle.seek(-len(_PNG_END), os.SEEK_END)
            return head == _PNG_SIGNATURE and handle.read() == _PNG_END
    except OSError:  # missing, unreadable, or shorter than the trailer
        return False


def is_temp_file(name: str) -> bool:
    """Whether a file name is one of atomic_output's temp files (whether or not its writer still lives)."""
    return name.startswith(TEMP_PREFIX)


def remove_stale_temp_files(folder: PathLike) -> list[Path]:
    """Remove the temp files in `folder` whose writer died (a SIGKILL mid-write): those named with TEMP_PREFIX
    that no process holds locked. Returns what was removed. Subfolders and every other file are left alone."""
    removed = []
    if fcntl is None:
        return removed
    try:
        with os.scandir(folder) as listing:
            entries = [entry for entry in listing if is_temp_file(entry.name) and entry.is_file()]
    except OSError:  # no folder (yet), or not readable: nothing of ours to clear
        return removed
    for entry in entries:
        if _remove_if_unlocked(Path(entry.path)):
            removed.append(Path(entry.path))
    return removed


def save_json_atomic(obj, path: PathLike, indent: bool = False) -> Path:
    """json (orjson; numpy arrays and scalars allowed) written atomically."""
    option = orjson.OPT_SERIALIZE_NUMPY | (orjson.OPT_INDENT_2 if indent else 0)
    return write_atomic(path, orjson.dumps(obj, option=option))


def save_json_streamed(obj, path: PathLike, indent: bool = False, *, prefix: bytes = b"", suffix: bytes = b"") -> Path:
    """json written atomically piece by piece: an iterator (a generator), given or as a value of the given dict,
    becomes a list written one item at a time, so a list of a million rows never exists as one Python object (or
    one bytes). The bytes are those of `save_json_atomic` on the same data, between `prefix` and `suffix` (e.g. a
    JavaScript assignment that a page loads without a server)."""
    option = orjson.OPT_SERIALIZE_NUMPY | (orjson.OPT_INDENT_2 if indent else 0)
    newline, pad = (b"\n", b"  ") if indent else (b"", b"")

    def write_value(handle, value, depth: int) -> None:
        if isinstance(value, Iterator):
            handle.write(b"[")
            empty = True
            for item in value:
                handle.write((b"" if empty else b",") + newline + pad * (depth + 1))
                handle.write(orjson.dumps(item, option=option).replace(b"\n", b"\n" + pad * (depth + 1)))
                empty = False
            handle.write(b"]" if empty else newline + pad * depth + b"]")
        elif isinstance(value, dict) and depth == 0 and value:
            handle.write(b"{")
            separator = b": " if indent else b":"
            for number, (key, item) in enumerate(value.items()):
                handle.write((b"," if number else b"") + newline + pad + orjson.dumps(key) + separator)
                write_value(handle, item, 1)
            handle.write(newline + b"}")
        else:
            handle.write(orjson.dumps(value, option=option).replace(b"\n", b"\n" + pad * depth))

    def write(temp: Path) -> None:
        with open(temp, "wb", buffering=1 << 20) as handle:
            handle.write(prefix)
            write_value(handle, obj, 0)
            handle.write(suffix)

    return write_atomic(path, write)


def file_sha256(path: PathLike) -> str:
    """The hex sha256 of a file's bytes, read in 1 MiB blocks (weights manifests record it; loading checks it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def _locked_temp_file(path: Path, suffix: str) -> tuple[Optional[int], Path]:
    """A new temp file beside `path` and an open handle holding the lock that tells a sweep it is in use (None
    where there are no locks: a sweep cannot lock the file either, so leaves it alone)."""
    while True:
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.", suffix=suffix)
        if not _lock(handle, blocking=True):
            os.close(handle)
            return None, Path(name)
        if _still_named(handle, name):  # a sweep may have removed it between its creation and the lock
            return handle, Path(name)
        os.close(handle)


def _lock(handle: int, blocking: bool) -> bool:
    if fcntl is None:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        return True
    except OSError:  # held by another process (not blocking), or a file system without locks
        return False


def _still_named(handle: int, name: str) -> bool:
    try:
        return os.stat(name).st_ino == os.fstat(handle).st_ino
    except FileNotFoundError:
        return False


def _remove_if_unlocked(temp: Path) -> bool:
    try:
        handle = os.open(temp, os.O_RDWR)  # RDWR: NFS emulates flock with write locks
    except OSError:
        return False
    if not _lock(handle, blocking=False):  # its writer lives (or locks do not work here): not ours to judge
        os.close(handle)
        return False
    try:
        temp.unlink()
        return True
    except OSError:
        return False
    finally:
        os.close(handle)


def _sweep_once(folder: Path) -> None:
    """Clear `folder` of stale temp files the first time this process writes into it (one listing per folder)."""
    key = os.path.abspath(folder)
    with _swept_lock:
        if key in _swept_folders:
            return
        _swept_folders.add(key)
    remove_stale_temp_files(folder)


def _naming(err: OSError, path: Path) -> OSError:
    """The error with `path` in its message (not the temp file's name), of the same OSError subclass."""
    if str(err).startswith(f"could not write {path}"):
        return err
    message = f"could not write {path}: {err.strerror or err}"
    try:
        named = type(err)(message)
    except TypeError:  # a subclass that takes other arguments
        named = OSError(message)
    named.errno = err.errno  # kept for callers that test it (ENOSPC), without "[Errno N]" in the message
    return named


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
