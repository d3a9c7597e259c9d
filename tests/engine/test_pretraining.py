"""tools/pretrain_backbone.py: a short run writes a detectron2 checkpoint (and its manifest) that the toy models load
and train from; the same settings give the same weights; bad input is one line."""

import hashlib
import subprocess
import sys

import pytest
import torch

from noisy_seg.cli import pretrain_backbone
from detectron2.config import instantiate

from noisy_seg.engine.pretraining import BACKBONE_PREFIX, PretrainSettings, pretrain_backbone as pretrain
from noisy_seg.model_zoo import get_config
from noisy_seg.utils.files import load_json

SHORT = [
    "--iterations",
    "3",
    "--batch-size",
    "4",
    "--val-images",
    "4",
    "--warmup-iters",
    "1",
    "--num-workers",
    "0",
    "--no-progress",
]


def _state(path):
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("pretrain") / "backbone.pth"
    assert pretrain_backbone.main(["--output", str(output), *SHORT]) == 0
    return output


def test_a_short_run_writes_the_toy_backbone_in_float16_with_its_manifest(short_run):
    state = _state(short_run)
    model = instantiate(get_config("toy/mask_rcnn_R18_FPN_ce.py").model)
    expected = {BACKBONE_PREFIX + key: value for key, value in model.backbone.bottom_up.state_dict().items()}
    assert set(state) == set(expected)
    assert all(state[key].shape == value.shape for key, value in expected.items())
    assert all(value.dtype == torch.float16 for value in state.values() if value.is_floating_point())
    manifest = load_json(str(short_run) + ".json")
    assert manifest["settings"]["iterations"] == 3 and 0.0 <= manifest["val"]["top1"] <= 1.0
    assert manifest["command"].startswith("python tools/pretrain_backbone.py --output ")
    assert manifest["sha256"] == hashlib.sha256(short_run.read_bytes()).hexdigest()


@pytest.mark.slow
def test_the_toy_recipe_loads_it_and_trains(short_run, repo_root, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "tools/train_net.py",
            "--config-file",
            "configs/toy/mask_rcnn_R18_FPN_ce.py",
            f"train.init_checkpoint={short_run}",
            "train.max_iter=2",
            "train.eval_period=0",
            f"train.output_dir={tmp_path / 'run'}",
            "dataloader.train.num_workers=0",
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert f"Loading from {short_run}" in log
    missing = log.split("not found in the checkpoint:")[1].split("\n[")[0]  # detectron2's list of what it lacks
    assert "backbone.fpn" in missing and "roi_heads" in missing and "backbone.bottom_up" not in missing
    assert (tmp_path / "run" / "model_final.pth").is_file()


@pytest.mark.slow
def test_the_same_settings_give_the_same_weights(tmp_path):
    settings = PretrainSettings(iterations=2, batch_size=4, val_images=4, warmup_iters=1)
    first, second = tmp_path / "a.pth", tmp_path / "b.pth"
    pretrain(settings, str(first), num_workers=0, progress=False)
    pretrain(settings, str(second), num_workers=1, progress=False)  # workers draw the same keyed samples
    a, b = _state(first), _state(second)
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_the_dense_pretext_trains_too(tmp_path):
    manifest = pretrain(
        PretrainSettings(task="dense", iterations=1, batch_size=2, val_images=2, warmup_iters=0),
        str(tmp_path / "dense.pth"),
        num_workers=0,
        progress=False,
    )
    assert set(manifest["val"]) == {"pixel_accuracy", "miou"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--iterations", "0"], "iterations must be an int >= 1, got 0"),
        (["--image-size", "8"], "image_size must be an int in [32, 1024], got 8"),
        (["--lr", "nan"], "lr must be a finite number >= 0, got nan"),
        (["--config-file", "toy/no_such.py"], "not found"),
    ],
)
@pytest.mark.slow
def test_bad_settings_are_one_line_and_status_2(repo_root, tmp_path, args, message):
    result = subprocess.run(
        [sys.executable, "tools/pretrain_backbone.py", "--output", str(tmp_path / "w.pth"), *args],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr[-2000:]
    assert not (tmp_path / "w.pth").exists()


def test_an_existing_output_is_never_overwritten(short_run):
    before = short_run.read_bytes()
    with pytest.raises(SystemExit, match="exists: choose a new file"):
        pretrain_backbone.main(["--output", str(short_run), *SHORT])
    assert short_run.read_bytes() == before
