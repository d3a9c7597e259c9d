"""noisy_seg://: the shipped pretrained backbone by name, checked against its manifest, fitting every toy model
(LazyConfig and yacs, instance and semantic); an unknown name, a missing or a changed file is one line."""

import hashlib
import shutil

import pytest
import torch

from detectron2.config import get_cfg, instantiate
from detectron2.modeling import build_model
from detectron2.utils.file_io import PathManager

from noisy_seg.config import add_noisy_seg_config
from noisy_seg.engine.checkpoint import SafeCheckpointer
from noisy_seg.model_zoo import get_config, get_config_file, pretrained_weights_file, weights
from noisy_seg.utils.errors import UserInputError
from noisy_seg.utils.files import load_json

NAME = "backbones/R18_tiny_corpus.pth"
URL = "noisy_seg://" + NAME


def test_the_shipped_backbone_resolves_by_name_and_matches_its_manifest():
    path = PathManager.get_local_path(URL)
    manifest = load_json(path + ".json")
    assert hashlib.sha256(open(path, "rb").read()).hexdigest() == manifest["sha256"]
    assert manifest["command"].startswith("python tools/pretrain_backbone.py")
    assert PathManager.isfile(URL) and PathManager.exists(URL) and not PathManager.exists("noisy_seg://nothing.pth")
    assert torch.load(path, weights_only=True)["model"]  # loads without running code


def test_the_shipped_file_is_at_most_5_mb():
    assert pretrained_weights_file(NAME).stat().st_size <= 5 * 2**20


def _yacs_model(config: str):
    cfg = add_noisy_seg_config(get_cfg())
    cfg.merge_from_file(get_config_file(config), allow_unsafe=False)
    cfg.MODEL.DEVICE = "cpu"
    return build_model(cfg)


@pytest.mark.parametrize(
    "build",
    [
        lambda: instantiate(get_config("toy/mask_rcnn_R18_FPN_ce.py").model),
        lambda: instantiate(get_config("toy/semantic_R18_FPN_ce.py").model),
        lambda: _yacs_model("toy/yacs/mask_rcnn_R18_FPN_ce.yaml"),
        lambda: _yacs_model("toy/yacs/semantic_R18_FPN_ce.yaml"),
    ],
    ids=["lazy-instance", "lazy-semantic", "yacs-instance", "yacs-semantic"],
)
def test_it_fits_the_backbone_of_every_toy_model(build):
    model = build()
    checkpointer = SafeCheckpointer(model)
    checkpointer.load(URL, checkpointables=[])  # by name, through detectron2's PathManager
    incompatible = checkpointer.last_incompatible
    assert not incompatible.unexpected_keys and not incompatible.incorrect_shapes
    assert not [key for key in incompatible.missing_keys if key.startswith("backbone.bottom_up.")]
    loaded = torch.load(PathManager.get_local_path(URL), weights_only=True)["model"]
    some = "backbone.bottom_up.res5.1.conv2.weight"
    assert torch.equal(model.state_dict()[some], loaded[some].float())


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(
        UserInputError,
        match=rf"noisy_seg://backbones/nope.pth names no weights shipped with "
        rf"noisy_seg; known: {URL}",
    ):
        PathManager.get_local_path("noisy_seg://backbones/nope.pth")
    for bad in ("../model_zoo.py", "/etc/passwd", ""):
        with pytest.raises(UserInputError, match="names no weights shipped"):
            pretrained_weights_file(bad)


@pytest.fixture()
def shipped_copy(tmp_path, monkeypatch):
    """The shipped weights copied to a folder the handler reads instead, to damage them there."""
    root = tmp_path / "weights"
    shutil.copytree(weights.WEIGHTS_ROOT, root)
    monkeypatch.setattr(weights, "WEIGHTS_ROOT", root)
    monkeypatch.setattr(weights, "_verified", {})
    return root / NAME


def test_a_changed_file_is_one_line_that_says_how_to_make_it_again(shipped_copy):
    data = bytearray(shipped_copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shipped_copy.write_bytes(bytes(data))
    with pytest.raises(UserInputError) as err:
        PathManager.get_local_path(URL)
    message = str(err.value)
    assert "is not the file noisy_seg shipped" in message and "python tools/pretrain_backbone.py" in message
    assert "\n" not in message


def test_a_missing_file_is_one_line(shipped_copy):
    shipped_copy.unlink()
    with pytest.raises(UserInputError, match="is missing; reinstall noisy_seg, or make it again with `python tools/"):
        PathManager.get_local_path(URL)


@pytest.mark.parametrize(
    "config, override",
    [
        ("configs/toy/mask_rcnn_R18_FPN_ce.py", "train.init_checkpoint=noisy_seg://backbones/nope.pth"),
        ("configs/toy/yacs/mask_rcnn_R18_FPN_ce.yaml", "MODEL.WEIGHTS noisy_seg://backbones/nope.pth"),
    ],
)
@pytest.mark.slow
def test_train_net_refuses_an_unknown_name_in_one_line_before_the_run(repo_root, tmp_path, config, override):
    import subprocess
    import sys

    out = tmp_path / "run"
    output = f"train.output_dir={out}" if config.endswith(".py") else f"OUTPUT_DIR {out}"
    result = subprocess.run(
        [sys.executable, "tools/train_net.py", "--config-file", config, *override.split(" "), *output.split(" ")],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert "noisy_seg://backbones/nope.pth names no weights shipped with noisy_seg" in lines[0]
    assert not out.exists()
