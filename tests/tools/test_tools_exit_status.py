"""Every tool answers bad input with one `error: ...` line and exit status 2 (argparse's status for a usage error),
never a traceback or Python's status 1 for a SystemExit message."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "tool, args",
    [
        (
            "find_semantic_label_errors",
            [
                "--config-file",
                "no_such_config.py",
                "--weights",
                "w.pth",
                "--dataset",
                "toy_shapes_sem_train",
                "--output",
                "{tmp}/out",
            ],
        ),
        (
            "generate_pseudo_labels",
            ["--config-file", "no_such_config.py", "--weights", "w.pth", "--output", "{tmp}/out"],
        ),
        ("visualize_noise", ["--noise", "no_such_noise", "--output", "{tmp}/out.png"]),
        ("plot_memorization", ["{tmp}/no_such_run", "--output", "{tmp}/out.png"]),
        (
            "find_label_errors",
            ["--config-file", "no_such_config.py", "--dataset", "toy_shapes_train", "--output", "{tmp}/out"],
        ),
        (
            "make_noisy_dataset",
            ["--noise", "no_such_noise", "--input", "{tmp}/missing.json", "--output", "{tmp}/out.json"],
        ),
    ],
)
@pytest.mark.slow
def test_bad_input_is_one_error_line_and_status_2(repo_root, tmp_path, tool, args):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = subprocess.run(
        [sys.executable, f"tools/{tool}.py", *argv], cwd=repo_root, capture_output=True, text=True, timeout=300
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.png").exists()
