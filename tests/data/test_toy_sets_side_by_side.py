"""Toy sets generated with other settings live beside the default one and are never silently replaced."""

import os
import subprocess
import sys

import pytest

from noisy_seg.data.datasets.toy_shapes import read_manifest

CUSTOM = ["--seed", "1", "--num-train", "6", "--num-val", "2", "--image-size", "64"]
CUSTOM_NAME = "toy_shapes_seed1_train6_val2_size64"


def _run(repo_root, base, *args, code=None):
    env = {**os.environ, "NOISY_SEG_DATASETS": str(base)}
    command = [sys.executable, *(["-c", code] if code else ["tools/generate_toy_data.py", *args])]
    return subprocess.run(command, cwd=repo_root, env=env, capture_output=True, text=True, timeout=300)


LOAD = (
    "import sys; from detectron2.data import DatasetCatalog; import noisy_seg.data; "
    "print(len(DatasetCatalog.get(sys.argv[1] if len(sys.argv) > 1 else '{name}')))"
)


@pytest.mark.slow
def test_a_custom_set_goes_beside_the_default_and_trains_by_name(repo_root, tmp_path):
    result = _run(repo_root, tmp_path, *CUSTOM)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "toy_shapes").exists(), "the default set must not be touched"
    assert read_manifest(tmp_path / CUSTOM_NAME)["num_train"] == 6
    assert (
        f"dataloader.train.dataset.names={CUSTOM_NAME}_train dataloader.test.dataset.names={CUSTOM_NAME}_val"
        in result.stdout
    )
    loaded = _run(repo_root, tmp_path, code=LOAD.format(name=f"{CUSTOM_NAME}_train"))
    assert loaded.returncode == 0 and loaded.stdout.split()[-1] == "6", loaded.stderr[-2000:]


@pytest.mark.slow
def test_the_default_loader_refuses_a_set_with_other_settings_in_one_line(repo_root, tmp_path):
    default_root = tmp_path / "toy_shapes"
    assert _run(repo_root, tmp_path, *CUSTOM, "--root", str(default_root)).returncode == 0
    before = read_manifest(default_root)
    loaded = _run(
        repo_root,
        tmp_path,
        code=(
            "from detectron2.data import DatasetCatalog; import noisy_seg.data\n"
            "try:\n    DatasetCatalog.get('toy_shapes_train')\nexcept ValueError as e:\n    print('refused:', e)"
        ),
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert "refused: toy data at" in loaded.stdout and "it is left as it is" in loaded.stdout
    assert read_manifest(default_root) == before


@pytest.mark.slow
def test_the_tool_replaces_a_set_with_other_settings_only_with_force(repo_root, tmp_path):
    root = tmp_path / "mine"
    assert _run(repo_root, tmp_path, *CUSTOM, "--root", str(root)).returncode == 0
    other = ["--seed", "2", "--num-train", "4", "--num-val", "2", "--image-size", "64", "--root", str(root)]
    refused = _run(repo_root, tmp_path, *other)
    assert refused.returncode == 2 and refused.stderr.startswith("error: toy data at")
    assert refused.stderr.strip().count("\n") == 0 and read_manifest(root)["seed"] == 1
    assert _run(repo_root, tmp_path, *other, "--force").returncode == 0
    assert read_manifest(root)["seed"] == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--image-size", "100000"], "image_size must be an int in"),
        (["--num-train", "0"], "num_train must be an int in"),
        (["--root", "FILE"], "is a file; give a folder"),
    ],
)
@pytest.mark.slow
def test_absurd_sizes_and_roots_are_refused(repo_root, tmp_path, args, message):
    (tmp_path / "FILE").write_text("x")
    args = [str(tmp_path / a) if a == "FILE" else a for a in args]
    result = _run(repo_root, tmp_path, *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
