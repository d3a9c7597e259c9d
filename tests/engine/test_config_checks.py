"""Configs are checked before anything is built or launched: each problem is one line."""

from types import SimpleNamespace

import pytest

from detectron2.config import LazyConfig

from noisy_seg.cli import train_net
from noisy_seg.engine import apply_overrides, check_config
from noisy_seg.utils.errors import UserInputError

TOY = "projects/NoisyClassLabels/configs/toy/combination_switch.py"


@pytest.fixture(scope="module")
def toy_cfg(repo_root):
    return LazyConfig.load(str(repo_root / TOY))


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "dataloader.train.mapper.noise=sym150",
            "dataloader.train.mapper.noise='sym150': noise name 'sym150': the rate must be a percentage",
        ),
        ("dataloader.train.mapper.noise=asym40_coco", "preset 'coco' has 80 classes but num_classes is 8"),
        ("dataloader.train.mapper.noise=gaussian", "unknown noise name 'gaussian'"),
        ("dataloader.train.mapper.noise={type:symmetric,rate:2}", "rate must be in"),
        ("dataloader.train.mapper.noise={type:spatial,preset:hard,p:0.5}", "p must be <= 1/3"),
        ("dataloader.train.mapper.num_classes=5", "num_classes=5 but dataset 'toy_shapes_train' has 8 thing classes"),
        (  # the mapper's count is the model's: one count to set, and the message names it
            "model.roi_heads.num_classes=5",
            "model.roi_heads.num_classes=5 (the train mapper's class count too) but dataset 'toy_shapes_train' has 8",
        ),
        ("train.max_iter=0", "train.max_iter must be an int >= 1, got 0"),
        ("train.max_iter=null", "train.max_iter must be an int >= 1, got None"),
        ("train.eval_period=-1", "train.eval_period must be an int >= 0"),
        ("dataloader.train.total_batch_size=0", "total_batch_size must be an int >= 1"),
        ("optimizer.lr=-0.1", "optimizer.lr must be a number > 0"),
        ("train.device=tpu", "train.device must be 'cuda', 'cuda:N' or 'cpu'"),
        ("train.stop_iter=900", "train.stop_iter=900 must be in (0, train.max_iter=500]"),
    ],
)
def test_bad_values_are_one_line_before_launch(toy_cfg, override, message):
    cfg = apply_overrides(toy_cfg.copy(), [override])
    with pytest.raises(UserInputError) as error:
        check_config(cfg)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_train_mapper_counts_the_models_classes(repo_root):
    from detectron2.config import instantiate

    from noisy_seg.engine import load_lazy_config

    for config, key, noise in (
        ("configs/toy/mask_rcnn_R18_FPN_ce.py", "model.roi_heads.num_classes", "sym40"),
        ("configs/toy/semantic_R18_FPN_ce.py", "model.sem_seg_head.num_classes", "semrelabel40"),
    ):
        cfg = load_lazy_config(str(repo_root / config), [f"{key}=6", f"dataloader.train.mapper.noise={noise}"])
        mapper = instantiate(cfg.dataloader.train.mapper)
        assert (mapper.noise.class_noise if hasattr(mapper.noise, "class_noise") else mapper.noise).num_classes == 6


def test_good_configs_pass(toy_cfg):
    for noise in ("sym40", "symmix40", "coco_n_hard", "asym40_cityscapes", "idn40", "drop30", "clean"):
        check_config(apply_overrides(toy_cfg.copy(), [f"dataloader.train.mapper.noise={noise}"]))


@pytest.fixture
def cli(repo_root, capsys, monkeypatch):
    """tools/train_net.py's command line, in-process: run(*argv) -> (exit status, stderr). Its refusals come before
    anything is built or launched; an unexpected exception (a traceback in a process) fails the test."""
    monkeypatch.chdir(repo_root)

    def run(*argv):
        capsys.readouterr()
        try:
            train_net.cli(list(argv))
            code = 0
        except SystemExit as exit_:
            code = exit_.code
        return SimpleNamespace(returncode=code, stderr=capsys.readouterr().err)

    return run


@pytest.mark.parametrize(
    "argv, message",
    [
        ([TOY, "dataloader.train.mapper.noise=sym150"], "error: dataloader.train.mapper.noise='sym150'"),
        ([TOY, "dataloader.train.mapper.nosie=sym40"], "error: unknown config key 'dataloader.train.mapper.nosie'"),
        ([TOY, "train.max_iter=abc"], "error: train.max_iter='abc': expected an int"),
    ],
)
def test_cli_reports_them_in_one_line(cli, argv, message):
    res = cli("--config-file", *argv)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert res.stderr.strip().count("\n") == 0 and res.stderr.startswith(message), res.stderr


def test_cli_config_files_that_cannot_run(cli, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("train = dict(\n")
    res = cli("--config-file", str(broken))
    assert res.returncode != 0 and "Traceback" not in res.stderr and f"error: {broken}:1:" in res.stderr
    yacs = tmp_path / "mask_rcnn.yaml"  # a yacs config runs with NoisyTrainer, and needs a training set
    yacs.write_text("VERSION: 2\nMODEL:\n  MASK_ON: True\n")  # (without VERSION detectron2 warns on stderr)
    res = cli("--config-file", str(yacs), "OUTPUT_DIR", str(tmp_path / "out"))
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0, res.stderr
    assert res.stderr.startswith("error: DATASETS.TRAIN is empty"), res.stderr
    res = cli("--config-file", str(yacs), "--eval-only")
    assert res.stderr.strip().count("\n") == 0 and res.stderr.startswith("error: DATASETS.TEST is empty"), res.stderr
    lazy_yaml = tmp_path / "saved.yaml"  # lower-case keys: a LazyConfig's saved config.yaml, without its parts
    lazy_yaml.write_text("model: {}\n")
    res = cli("--config-file", str(lazy_yaml))
    assert res.stderr.strip().count("\n") == 0 and "defines no train, dataloader" in res.stderr, res.stderr
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    res = cli("--config-file", str(text))
    assert res.stderr.startswith("error:") and "neither a LazyConfig .py file" in res.stderr
