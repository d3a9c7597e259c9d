"""The one home of "an output folder a run owns": new, resumed with the same settings, finished; one message set."""

import json
import os

import pytest

from noisy_seg.utils.errors import UserInputError
from noisy_seg.utils.files import TEMP_PREFIX
from noisy_seg.utils.run_folder import FINISHED, NEW, RUN_RECORD, STARTED, RunFolder, folder_problem, run_state

SETTINGS = {"scales": (1.0, 0.5), "threshold": None}


def test_a_new_folder_records_its_settings_and_finishes(tmp_path):
    path = tmp_path / "run"
    folder = RunFolder.open(path, SETTINGS)
    assert folder.state == NEW and run_state(path) == STARTED
    assert json.loads((path / RUN_RECORD).read_text()) == {
        "settings": {"scales": [1.0, 0.5], "threshold": None},
        "finished": False,
    }
    folder.finish()
    assert folder.state == FINISHED and run_state(path) == FINISHED
    assert RunFolder.open(path, SETTINGS, resume=True).state == FINISHED


def test_a_killed_writers_temp_files_are_no_output(tmp_path):
    (tmp_path / f"{TEMP_PREFIX}a.json.x").write_text("half")
    assert RunFolder.open(tmp_path, SETTINGS).state == NEW


def test_a_folder_holding_files_needs_resume_and_says_how(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    with pytest.raises(
        UserInputError,
        match=r"^--output .* already holds files \(a.png\); choose a new folder, or "
        r"resume an interrupted run into it \(--resume\) with the same settings$",
    ):
        RunFolder.open(tmp_path, SETTINGS)
    assert (
        folder_problem(tmp_path, "--out", how_to_resume=None)
        == f"--out {tmp_path} already holds files (a.png); choose a new folder"
    )
    assert folder_problem(tmp_path, how_to_resume=None, how_to_overwrite="--overwrite").endswith(
        "choose a new folder, or pass --overwrite to replace its files"
    )
    assert RunFolder.open(tmp_path, SETTINGS, overwrite=True).state == NEW


def test_resume_needs_a_record_of_the_same_settings(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    assert (
        folder_problem(tmp_path, resume=True)
        == f"--output {tmp_path} holds files but no {RUN_RECORD}: it is not a run to resume; choose a new folder"
    )
    path = tmp_path / "run"
    RunFolder.open(path, SETTINGS)
    assert RunFolder.open(path, {"threshold": None, "scales": [1.0, 0.5]}, resume=True).state == STARTED
    for other in ({**SETTINGS, "threshold": 0.5}, {"scales": [1.0, 0.5]}, {**SETTINGS, "flip": True}):
        with pytest.raises(UserInputError, match="holds a run with other settings .*resume with the same settings"):
            RunFolder.open(path, other, resume=True)
    assert "threshold: None there, 0.5 now" in folder_problem(
        path, settings={**SETTINGS, "threshold": 0.5}, resume=True
    )


def test_files_the_run_does_not_own_are_refused(tmp_path):
    RunFolder.open(tmp_path, SETTINGS, owned={"labels"})
    (tmp_path / "labels").mkdir()
    assert RunFolder.open(tmp_path, SETTINGS, resume=True, owned={"labels"}).state == STARTED
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserInputError, match=r"holds files of something else \(notes.txt\)"):
        RunFolder.open(tmp_path, SETTINGS, resume=True, owned={"labels"})
    assert RunFolder.open(tmp_path, SETTINGS, resume=True).state == STARTED  # owned=None: any file


@pytest.mark.parametrize("record", ["{not json", "[1, 2]", '{"finished": true}'])
def test_a_damaged_record_is_one_line(tmp_path, record):
    (tmp_path / RUN_RECORD).write_text(record)
    problem = folder_problem(tmp_path, resume=True)
    assert problem.startswith(f"--output {tmp_path}: its {RUN_RECORD} ") and problem.endswith("choose a new folder")
    assert "\n" not in problem
    with pytest.raises(UserInputError, match=RUN_RECORD):
        run_state(tmp_path)


def test_paths_that_cannot_be_a_run_folder(tmp_path):
    (tmp_path / "file").write_text("")
    assert folder_problem(tmp_path / "file") == f"--output {tmp_path / 'file'} is a file; give a folder"
    assert (
        folder_problem(tmp_path / "file" / "sub")
        == f"--output {tmp_path / 'file' / 'sub'} cannot be made: {tmp_path / 'file'} is a file; give a folder"
    )
    if os.geteuid() != 0:  # root writes anywhere
        (tmp_path / "ro").mkdir(mode=0o555)
        assert "is read-only; give a folder you can write" in folder_problem(tmp_path / "ro" / "run")
    assert run_state(tmp_path / "missing") == NEW
