"""Tables of equally long numpy columns, written as a folder of `.npy` files and memory-mapped on read: the storage
of the evidence shards (pseudo_labels/evidence_shards.py) and of the semantic component shards
(label_errors/semantic/table.py). A column of variable-length byte strings (RLE counts) is a `Ragged`: one uint8
buffer and each string's end, no Python object per row.

    save_tables(folder / "shard-000000", {"rows": {"index": ..., "mask": Ragged.of(...)}}, {"fingerprint": ...})
    tables, meta = load_tables(folder / "shard-000000")   # memory-mapped

A folder is written under a temp name beside its target and renamed into place: whole or absent.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np
import orjson

from .errors import UserInputError
from .files import load_json, save_json_atomic

__all__ = [
    "SHARD_PREFIX",
    "Ragged",
    "concatenate_tables",
    "fingerprint",
    "load_shard_folder",
    "load_tables",
    "release",
    "save_tables",
    "take_rows",
    "table_length",
]

META = "shard.json"
SHARD_PREFIX = "shard-"  # a shard's folder name starts so (a temp folder being written does not)
TEMP_PREFIX = ".tmp-"  # a shard being written; one left by a killed writer is removed when the folder is read


class Ragged:
    """A column of byte strings (RLE counts) as one uint8 buffer and each string's end: no Python object per row,
    memory-mappable, taken and concatenated as arrays."""

    def __init__(self, buffer: np.ndarray, ends: np.ndarray):
        self.buffer, self.ends = buffer, np.asarray(ends, np.int64)

    @classmethod
    def of(cls, items: Sequence[bytes]) -> "Ragged":
        lengths = np.fromiter((len(item) for item in items), np.int64, len(items))
        return cls(np.frombuffer(b"".join(items), np.uint8), np.cumsum(lengths))

    @property
    def starts(self) -> np.ndarray:
        return np.concatenate([np.zeros(1, np.int64), self.ends[:-1]])

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i):
        if isinstance(i, (int, np.integer)):
            start = int(self.ends[i - 1]) if i > 0 else 0
            return bytes(self.buffer[start : int(self.ends[i])])
        return self.take(np.asarray(i))

    def take(self, order: np.ndarray) -> "Ragged":
        order = np.flatnonzero(order) if order.dtype == bool else order.astype(np.int64)
        starts, lengths = self.starts[order], (self.ends - self.starts)[order]
        ends = np.cumsum(lengths)
        offsets = np.repeat(starts - (ends - lengths), lengths) + np.arange(int(ends[-1]) if len(ends) else 0)
        return Ragged(np.asarray(self.buffer)[offsets], ends)

    @staticmethod
    def concatenate(parts: Sequence["Ragged"]) -> "Ragged":
        shifts = np.cumsum([0] + [len(part.buffer) for part in parts[:-1]])
        return Ragged(
            np.concatenate([np.asarray(part.buffer) for part in parts]),
            np.concatenate([part.ends + shift for part, shift in zip(parts, shifts)]),
        )


def save_tables(final: Path, tables: dict, meta: dict) -> Path:
    """Write `tables` ({table: {column: array or Ragged}}) and `meta` (json) as the folder `final`."""
    final = Path(final)
    temp = final.parent / f"{TEMP_PREFIX}{final.name}-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    for table, columns in tables.items():
        for column, values in columns.items():
            if isinstance(values, Ragged):
                np.save(temp / f"{table}.{column}.bytes.npy", np.asarray(values.buffer))
                np.save(temp / f"{table}.{column}.ends.npy", values.ends)
            else:
                np.save(temp / f"{table}.{column}.npy", np.ascontiguousarray(values))
    save_json_atomic(meta, temp / META)
    os.replace(temp, final)
    return final


def load_tables(path: Path) -> tuple[dict, dict]:
    """(tables, meta) of a folder `save_tables` wrote, the columns memory-mapped; a folder without its record or with
    an unreadable column is one clear error."""
    path = Path(path)
    if not (path / META).is_file():
        raise UserInputError(f"{path} is not a whole shard (no {META}); delete it to compute its images again")
    tables = {}
    try:
        for file in sorted(path.glob("*.npy")):
            table, column, *part = file.name[: -len(".npy")].split(".")
            if part == ["ends"]:
                continue
            if part == ["bytes"]:
                ends = np.load(path / f"{table}.{column}.ends.npy")
                tables.setdefault(table, {})[column] = Ragged(np.load(file, mmap_mode="r"), ends)
            else:
                tables.setdefault(table, {})[column] = np.load(file, mmap_mode="r")
    except (ValueError, OSError) as err:
        raise UserInputError(f"the shard {path} cannot be read ({err}); delete it to compute its images again")
    return tables, load_json(path / META)


def fingerprint(identity) -> str:
    """What the shards of a run must have been written with: a digest of `identity` (json: settings, weights' hash),
    the same for equal settings whatever their key order."""
    return hashlib.sha1(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)).hexdigest()


def load_shard_folder(folder: Path, fingerprint: str, what: str) -> list[tuple[dict, dict]]:
    """(tables, meta) of every shard in `folder` (none when it does not exist), memory-mapped, in name order; one
    whose meta has another fingerprint (another run's, or other settings) is one clear error. Call it before any
    process writes into the folder: it removes the half-written shards a killed writer left."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    for leftover in folder.glob(f"{TEMP_PREFIX}{SHARD_PREFIX}*"):  # read before anything is written: a dead writer's
        shutil.rmtree(leftover, ignore_errors=True)
    shards = []
    for path in sorted(p for p in folder.iterdir() if p.name.startswith(SHARD_PREFIX)):
        tables, meta = load_tables(path)
        if meta.get("fingerprint") != fingerprint:
            raise UserInputError(
                f"the {what} shard {path} was written by another run or with other settings (model, dataset, "
                "options); delete it, or the whole folder, to compute its images again"
            )
        shards.append((tables, meta))
    return shards


def table_length(table: dict) -> int:
    return len(next(iter(table.values()))) if table else 0


def concatenate_tables(tables: Sequence[dict], what: str = "parts") -> dict:
    """Column by column; a column that an empty table lacks is no conflict, one that a table with rows lacks is. The
    memory-mapped pages of the parts are released as each column is copied (one copy resident, not two)."""
    columns = list(dict.fromkeys(name for table in tables for name in table))
    merged = {}
    for name in columns:
        if any(name not in table and table_length(table) for table in tables):
            raise UserInputError(
                f"the {what} to merge differ in their {name!r} column (one kept masks, or scored masks, and another "
                "not): compute them with the same options"
            )
        values = [table[name] for table in tables if name in table]
        if isinstance(values[0], Ragged):
            merged[name] = Ragged.concatenate(values)
            release(*(value.buffer for value in values))
        else:
            merged[name] = np.concatenate([np.asarray(value) for value in values])
            release(*values)
    return merged


def take_rows(table: dict, order: np.ndarray) -> dict:
    if len(order) == table_length(table) and np.array_equal(order, np.arange(len(order))):
        return table  # every row, already in order: no copy
    return {name: values.take(order) if isinstance(values, Ragged) else values[order] for name, values in table.items()}


def release(*arrays) -> None:
    """Drop the pages of memory-mapped columns just copied from this process's resident memory (they stay in the page
    cache and are read again if used)."""
    for array in arrays:
        mapped = getattr(array, "_mmap", None)
        if isinstance(array, np.memmap) and mapped is not None and hasattr(mapped, "madvise"):
            mapped.madvise(mmap.MADV_DONTNEED)
