"""Every shipped config instantiates: model built, optimizer and schedule made; data not iterated."""

from pathlib import Path

import pytest
import torch

from detectron2.config import LazyConfig, instantiate
from detectron2.modeling import GeneralizedRCNN, SemanticSegmentor

from noisy_seg.data import check_datasets_available
from noisy_seg.utils.errors import UserInputError

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(str(p.relative_to(REPO)) for p in (REPO / "configs").rglob("*.py") if "common" not in p.parts)
CONFIGS += sorted(str(p.relative_to(REPO)) for p in (REPO / "projects").rglob("configs/**/*.py"))
REAL_DATA = [
    "configs/COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.py",
    "configs/Cityscapes/mask_rcnn_R_50_FPN.py",
    "configs/Cityscapes/semantic_R_50_FPN.py",
]


def test_the_required_configs_exist():
    assert "configs/toy/mask_rcnn_R18_FPN_ce.py" in CONFIGS and "configs/toy/semantic_R18_FPN_ce.py" in CONFIGS
    assert set(REAL_DATA) <= set(CONFIGS)


@pytest.mark.parametrize("path", CONFIGS)
@pytest.mark.slow
def test_config_instantiates(path):
    cfg = LazyConfig.load(str(REPO / path))
    model = instantiate(cfg.model)
    assert isinstance(model, (GeneralizedRCNN, SemanticSegmentor))
    cfg.optimizer.params.model = model
    optim = instantiate(cfg.optimizer)
    assert isinstance(optim, torch.optim.Optimizer)
    sched = instantiate(cfg.lr_multiplier)
    assert 0 < sched(0.0) <= sched(0.5)  # warmup starts low
    assert cfg.train.max_iter > 0 and cfg.train.output_dir
    # the test loader and evaluator name the same dataset
    assert cfg.dataloader.evaluator.dataset_name == cfg.dataloader.test.dataset.names


def test_semantic_toy_config_is_small_pretrained_and_uses_the_noisy_head():
    from noisy_seg.modeling import NoisySemSegFPNHead

    cfg = LazyConfig.load(str(REPO / "configs/toy/semantic_R18_FPN_ce.py"))
    assert cfg.train.init_checkpoint == "noisy_seg://backbones/R18_tiny_corpus.pth"  # made here, shipped
    model = instantiate(cfg.model)
    assert isinstance(model.sem_seg_head, NoisySemSegFPNHead) and model.sem_seg_head.sem_seg_loss.is_stock_ce
    assert sum(p.numel() for p in model.parameters()) < 20e6
    sched = instantiate(cfg.lr_multiplier)
    assert abs(sched(0.5) - 0.5**0.9) < 1e-9 and abs(sched(0.999) - 0.02) < 1e-9  # the seeds' poly, floor 0.02


def test_toy_config_is_small_and_pretrained_here():
    cfg = LazyConfig.load(str(REPO / "configs/toy/mask_rcnn_R18_FPN_ce.py"))
    assert cfg.train.init_checkpoint == "noisy_seg://backbones/R18_tiny_corpus.pth"  # "" trains from scratch
    model = instantiate(cfg.model)
    assert sum(p.numel() for p in model.parameters()) < 20e6
    assert model.roi_heads.num_classes == 8
    norms = {type(m).__name__ for m in model.backbone.modules()}
    assert "FrozenBatchNorm2d" not in norms, "FrozenBN diverges from scratch; the backbone was pretrained with BN"


@pytest.mark.parametrize("path", REAL_DATA)
def test_real_data_configs_keep_real_defaults(path):
    cfg = LazyConfig.load(str(REPO / path))
    assert cfg.train.init_checkpoint == "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
    assert cfg.model.backbone.bottom_up.stages.depth == 50


@pytest.mark.parametrize("path", REAL_DATA)
def test_missing_real_data_is_a_clear_error(path, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # detectron2's default dataset root "datasets" is relative to the cwd
    cfg = LazyConfig.load(str(REPO / path))
    names = cfg.dataloader.train.dataset.names
    with pytest.raises(UserInputError, match=f"dataset '{names}'.*DETECTRON2_DATASETS"):
        check_datasets_available([names])


@pytest.mark.parametrize(
    "path",
    ["configs/Cityscapes/mask_rcnn_R_50_FPN.py", "projects/NoisyClassLabels/configs/Cityscapes/combination_switch.py"],
)
def test_cityscapes_mask_rcnn_steps_at_75_percent_and_the_commented_override_gives_yang_et_als_87_5(path):
    """detectron2's Cityscapes recipe steps the LR at 75%; the config's comment gives the one override for Yang et
    al.'s 87.5% (step=[7] of 8 epochs), which stretches with train.max_iter like the default."""
    cfg = LazyConfig.load(str(REPO / path))
    override = "lr_multiplier.scheduler.milestones=[21000]"
    assert override in (REPO / "configs/Cityscapes/mask_rcnn_R_50_FPN.py").read_text()
    default = instantiate(cfg.lr_multiplier)
    assert default(0.749) == 1.0 and default(0.751) == pytest.approx(0.1)
    theirs = instantiate(LazyConfig.apply_overrides(cfg, [override]).lr_multiplier)
    assert theirs(0.874) == 1.0 and theirs(0.876) == pytest.approx(0.1)
