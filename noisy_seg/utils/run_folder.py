"""The output folder of a run: new to start, resumed only by a run of the same settings, marked when finished.

Every tool, workflow, grid cell and evidence runner that writes a folder of results opens it here, so the rules and
the messages are one set:

- the folder is named in every message as the user gave it (`flag`: "--output", "output_dir", ...);
- a path that is a file, lies under a file, or sits in a folder that cannot be written: refused;
- missing, empty, or holding only a killed writer's temp files: NEW; the run's record (RUN_RECORD, json: the settings
  and whether the run finished) is written at once, so an interrupted run can be recognised and continued;
- holding files: refused unless `resume`; resumed only when it holds the record of a run with the same settings
  (every key equal, none added or missing) and no file the run does not own (`owned`);
- a record marked finished: FINISHED, and the caller reuses what is there.

`folder_problem` answers the same question without writing anything, for checks at the boundary (a tool's
arguments, a grid's --check) before anything slow runs. Plain Python (no torch, no detectron2): the noise core may
use it.

    folder = RunFolder.open("output/pseudo", {"scales": [1.0]}, resume=args.resume, owned={"labels", "manifest.json"})
    if folder.state != FINISHED:
        ...  # write the outputs
        folder.finish()
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Collection, Mapping, Optional, Union

import orjson

from .errors import UserInputError
from .files import is_temp_file, load_json, remove_stale_temp_files, save_json_atomic

__all__ = ["FINISHED", "NEW", "RUN_RECORD", "STARTED", "RunFolder", "folder_problem", "run_state"]

PathLike = Union[str, os.PathLike]

RUN_RECORD = "run.json"
NEW, STARTED, FINISHED = "new", "started", "finished"


class RunFolder:
    """An opened run folder: `path`, the run's `settings` and its `state` (NEW, STARTED or FINISHED)."""

    def __init__(self, path: Path, settings: dict, state: str):
        self.path, self.settings, self.state = path, settings, state

    @classmethod
    def open(
        cls,
        path: PathLike,
        settings: Mapping,
        *,
        resume: bool = False,
        overwrite: bool = False,
        owned: Optional[Collection[str]] = None,
        flag: str = "--output",
        how_to_resume: Optional[str] = "--resume",
        how_to_overwrite: Optional[str] = None,
    ) -> "RunFolder":
        """Open `path` for a run with `settings` (json-serializable), or raise UserInputError with the one-line
        reason. `owned`: the names (files or folders) the run writes at the folder's top, besides RUN_RECORD; None
        accepts any (e.g. a training's folder, where detectron2 names the files). `overwrite`: a folder that holds
        files is started anew, its files replaced as the run writes them. `how_to_resume` ("--resume",
        "resume=True"; None: the run cannot resume) and `how_to_overwrite` ("--overwrite"; None: it cannot) complete
        the message for a folder that already holds files."""
        path, settings = Path(path), _as_json(settings)
        problem = folder_problem(
            path,
            flag,
            settings=settings,
            resume=resume,
            overwrite=overwrite,
            owned=owned,
            how_to_resume=how_to_resume,
            how_to_overwrite=how_to_overwrite,
        )
        if problem:
            raise UserInputError(problem)
        record = None if overwrite else _read_record(path)
        state = NEW if record is None else (FINISHED if record.get("finished") else STARTED)
        remove_stale_temp_files(path)
        if state == NEW:
            save_json_atomic({"settings": settings, "finished": False}, path / RUN_RECORD, indent=True)
        return cls(path, settings, state)

    def finish(self) -> None:
        """Mark the run finished (write this last: a folder without the mark is an unfinished run)."""
        save_json_atomic({"settings": self.settings, "finished": True}, self.path / RUN_RECORD, indent=True)
        self.state = FINISHED


def run_state(path: PathLike) -> str:
    """NEW (no run recorded in `path`), STARTED or FINISHED, from its RUN_RECORD; nothing is checked or written."""
    try:
        record = _read_record(Path(path)) if Path(path).is_dir() else None
    except ValueError as err:
        raise UserInputError(f"{path}: {err}") from None
    return NEW if record is None else (FINISHED if record.get("finished") else STARTED)


def folder_problem(
    path: PathLike,
    flag: str = "--output",
    *,
    settings: Optional[Mapping] = None,
    resume: bool = False,
    overwrite: bool = False,
    owned: Optional[Collection[str]] = None,
    how_to_resume: Optional[str] = "--resume",
    how_to_overwrite: Optional[str] = None,
) -> Optional[str]:
    """Why a run cannot write (or continue) in `path`, in one line; None if it can. Writes nothing. Without
    `settings` only what the folder holds is judged (a resumed run's settings are compared when it is opened)."""
    path = Path(path)
    where = f"{flag} {path}"
    if path.exists() and not path.is_dir():
        return f"{where} is a file; give a folder"
    existing = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
    if not existing.is_dir():
        return f"{where} cannot be made: {existing} is a file; give a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{where} cannot be written: {existing} is read-only; give a folder you can write"
    present = sorted(p.name for p in path.iterdir() if not is_temp_file(p.name)) if path.is_dir() else []
    if not present or overwrite:
        return None
    if not resume:
        hints = [f"resume an interrupted run into it ({how_to_resume}) with the same settings"] if how_to_resume else []
        hints += [f"pass {how_to_overwrite} to replace its files"] if how_to_overwrite else []
        return f"{where} already holds files ({_names(present)}); choose a new folder" + "".join(
            f", or {hint}" for hint in hints
        )
    try:
        record = _read_record(path)
    except ValueError as err:
        return f"{where}: {err}; choose a new folder"
    if record is None:
        return f"{where} holds files but no {RUN_RECORD}: it is not a run to resume; choose a new folder"
    foreign = [name for name in present if owned is not None and name != RUN_RECORD and name not in owned]
    if foreign:
        return f"{where} holds files of something else ({_names(foreign)}); choose a new folder"
    if settings is not None:
        earlier, now = record.get("settings") or {}, _as_json(settings)
        changed = sorted(
            key
            for key in earlier.keys() | now.keys()
            if key not in earlier or key not in now or earlier[key] != now[key]
        )
        if changed:
            key = changed[0]
            return (
                f"{where} holds a run with other settings ({', '.join(changed)}; e.g. {key}: "
                f"{_setting(earlier, key)} there, {_setting(now, key)} now); resume with the same settings or "
                "choose a new folder"
            )
    return None


def _read_record(path: Path) -> Optional[dict]:
    """The folder's run record; None without one. ValueError (one line) for one that is not a record."""
    record_path = path / RUN_RECORD
    if not record_path.is_file():
        return None
    try:
        record = load_json(record_path)
    except (OSError, ValueError) as err:
        raise ValueError(f"its {RUN_RECORD} cannot be read ({str(err).splitlines()[0]})") from None
    if not isinstance(record, dict) or not isinstance(record.get("settings"), dict):
        raise ValueError(f"its {RUN_RECORD} is not a run record (no settings)")
    return record


def _as_json(settings: Mapping) -> dict:
    """The settings as they read back from json (tuples as lists, paths as strings), so they compare equal."""
    return orjson.loads(orjson.dumps(dict(settings), default=str))


def _setting(settings: dict, key: str) -> str:
    return repr(settings[key]) if key in settings else "not set"


def _names(names: list) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
