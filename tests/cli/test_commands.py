"""`noisy-seg <command>`: every tool is a command of the installed package (noisy_seg/cli), the same as its script in
tools/ (issue 23: a `pip install` user had no tools/ at all)."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from noisy_seg import cli

REPO = Path(__file__).resolve().parents[2]
EVIDENCE_RUNNERS = {"label_error_evidence", "label_error_over_seeds"}  # their scripts are in benchmarks/


def test_every_command_is_a_module_with_an_entry_and_a_script():
    for command, module in cli.COMMANDS.items():
        loaded = importlib.import_module(f"noisy_seg.cli.{module}")
        assert callable(getattr(loaded, "cli", None) or getattr(loaded, "main", None)), command
        script = REPO / ("benchmarks" if module in EVIDENCE_RUNNERS else "tools") / f"{module}.py"
        assert f"noisy_seg.cli.{module} import" in script.read_text(), command


def test_the_dispatcher_lists_refuses_and_runs(capsys):
    assert cli.main(["--help"]) == 0 and "make-noisy-dataset" in capsys.readouterr().out
    assert cli.main([]) == 2
    capsys.readouterr()
    assert cli.main(["make-noisy-datset"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: unknown command 'make-noisy-datset'")
    assert "Did you mean: make-noisy-dataset?" in error
    assert (
        cli.main(["make-noisy-dataset", "--input", "/nonexistent.json", "--output", "x.json", "--noise", "sym40"]) == 2
    )
    assert capsys.readouterr().err.startswith("error: ")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["grid", "--help"])
    assert exit_info.value.code == 0 and "noisy-seg grid" in capsys.readouterr().out


def test_a_command_runs_as_a_module(tmp_path):
    """What the grid and the recipes launch (engine.grid.tool_command): `python -m noisy_seg.cli.<module>`."""
    result = subprocess.run(
        [sys.executable, "-m", "noisy_seg.cli.make_noisy_dataset", "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0 and "--noise" in result.stdout
