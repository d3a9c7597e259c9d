"""tools/run_pseudo_label_recipe.py checks every setting before its first training (issue 21: --output a file was a
FileExistsError traceback, and a bad --pseudo-label-args stopped the recipe at step 4, after three trainings)."""

import subprocess
import sys
from pathlib import Path

import pytest

from noisy_seg.cli import run_pseudo_label_recipe as recipe


@pytest.fixture
def no_training(monkeypatch):
    """Any step the recipe starts fails the test: every refusal comes before the first one."""

    def started(command, *args, **kwargs):
        raise AssertionError(f"a step was started: {command}")

    monkeypatch.setattr(recipe, "_run", started)


def refusal(*argv) -> str:
    with pytest.raises(SystemExit) as exit_info:
        recipe.main([*map(str, argv)])
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and "\n" not in message, message
    return message


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--pseudo-label-args", "--scales abc"],
            "--pseudo-label-args '--scales abc': argument --scales: invalid float",
        ),
        (["--pseudo-label-args", "--threshold 2"], "--pseudo-label-args: --threshold must lie in [0, 1], got 2"),
        (["--pseudo-label-args", "--relabel-threshold 0.5"], "--relabel-threshold does not apply to --task semantic"),
        (["--pseudo-label-args", "--output elsewhere"], "--output is set by the recipe; leave it out"),
        (["--pseudo-label-args", "'--no-flip"], "No closing quotation"),
        (
            ["--set", "train.max_iter=0"],
            "strong10_ce.py with --set train.max_iter=0: train.max_iter must be an int >= 1",
        ),
        (["--seeds", "0", "0"], "--seeds must be distinct ints >= 0, got 0 0"),
        (["--seeds", "-1"], "--seeds must be distinct ints >= 0"),
        (["--noise", "sym40"], "--noise is for --task instance"),
        (["--task", "instance", "--noise", "sym40_s1"], "--noise sym40_s1: give the name without _s<seed>"),
        (["--task", "instance", "--noise", "sym4O"], "--noise sym4O: unknown noise name 'sym4O'"),
        (["--task", "instance", "--noise", "semrelabel40"], "give instance label noise to correct"),
        (["--task", "instance", "--relabel-threshold", "3"], "--relabel-threshold must lie in [0, 1], got 3"),
        (["--task", "instance", "--pseudo-label-args=--no-flip"], "--pseudo-label-args is for --task semantic"),
        (["--task", "instance", "--set", "optimizer.lr=-1"], "instance_stage1_ce.py with --set optimizer.lr=-1"),
    ],
)
def test_bad_settings_are_one_line_before_any_training(tmp_path, no_training, flags, message):
    output = tmp_path / "recipe"
    assert message in refusal("--output", output, "--seeds", "0", *flags)
    assert not output.exists()


@pytest.mark.slow
def test_an_output_that_is_a_file_or_cannot_be_made_is_one_line(repo_root, tmp_path, no_training, monkeypatch):
    taken = tmp_path / "a_file"
    taken.write_text("mine")
    result = subprocess.run(
        [sys.executable, "tools/run_pseudo_label_recipe.py", "--output", str(taken), "--seeds", "0"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: --output {taken} is a file; give a folder"
    assert taken.read_text() == "mine"
    assert "cannot be made: " in refusal("--output", taken / "recipe", "--seeds", "0")

    def read_only(self, *args, **kwargs):  # what a read-only mount answers, whoever asks
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    new = tmp_path / "new"
    assert (
        refusal("--output", new, "--seeds", "0")
        == f"error: cannot make --output {new}: could not write {new / 'run.json'}: Permission denied"
    )


@pytest.mark.parametrize("task", ["semantic", "instance"])
@pytest.mark.slow
def test_the_default_settings_pass_the_checks(tmp_path, task):
    args = recipe.parse_args(
        [
            "--task",
            task,
            "--set",
            "train.max_iter=10",
            "--pseudo-label-args",
            "--scales 1 --no-flip" if task == "semantic" else "",
        ]
    )
    recipe.check_settings(args, tmp_path / "recipe")
    assert (args.noise, args.relabel_threshold) == (("sym40", 0.5) if task == "instance" else (None, None))
    assert not (tmp_path / "recipe").exists()
