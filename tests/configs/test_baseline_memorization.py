"""The baseline configs log memorization curves under label noise and still train exactly as detectron2's stock
models do: noisy_seg's ROI heads in "ce" mode (instance) and NoisySemanticSegmentor (semantic) give the same weights
and the same losses from the same seed, memorization path included."""

import copy
from pathlib import Path

import pytest
import torch

from detectron2.config import LazyConfig, instantiate
from detectron2.data import DatasetCatalog
from detectron2.modeling import SemanticSegmentor
from detectron2.modeling.roi_heads import FastRCNNOutputLayers, StandardROIHeads
from detectron2.utils.events import EventStorage

from noisy_seg.modeling.memorization import set_memorization_log_period

REPO = Path(__file__).resolve().parents[2]


def _stock_roi_heads(cfg):
    cfg.model.roi_heads._target_ = StandardROIHeads
    predictor = cfg.model.roi_heads.box_predictor
    predictor._target_ = FastRCNNOutputLayers
    for key in ("cls_loss", "cls_loss_kwargs", "loss_switch_iter"):
        del predictor[key]
    return cfg


def _stock_segmentor(cfg):
    cfg.model._target_ = SemanticSegmentor
    return cfg


def _noisy_batch(cfg, dataset, noise):
    mapper_cfg = copy.deepcopy(cfg.dataloader.train.mapper)
    mapper_cfg.noise, mapper_cfg.augmentations = noise, []
    mapper = instantiate(mapper_cfg)
    return [mapper(copy.deepcopy(d)) for d in DatasetCatalog.get(dataset)[:4]]


def _losses_and_scalars(cfg, batch):
    torch.manual_seed(0)
    model = instantiate(cfg.model).train()
    set_memorization_log_period(model, 1)  # as a trainer whose writers write every iteration
    torch.manual_seed(123)  # proposal sampling is random
    with EventStorage(0) as storage:
        losses = model(batch)
    return model, losses, {k for k in storage.latest() if k.startswith("memorization/")}


@pytest.mark.parametrize(
    "config, dataset, noise, make_stock",
    [
        ("configs/toy/mask_rcnn_R18_FPN_ce.py", "toy_tiny_train", "sym40", _stock_roi_heads),
        ("configs/toy/semantic_R18_FPN_ce.py", "toy_tiny_cityscapes_sem_seg_train", "semrelabel40", _stock_segmentor),
    ],
)
def test_baseline_config_equals_stock_and_logs_memorization(tiny_toy, config, dataset, noise, make_stock):
    cfg = LazyConfig.load(str(REPO / config))
    batch = _noisy_batch(cfg, dataset, noise)
    ours, our_losses, our_scalars = _losses_and_scalars(cfg, batch)
    stock, stock_losses, stock_scalars = _losses_and_scalars(make_stock(copy.deepcopy(cfg)), batch)
    assert type(ours) is not type(stock) or type(ours.roi_heads) is not type(stock.roi_heads)
    ours_state, stock_state = ours.state_dict(), stock.state_dict()
    assert ours_state.keys() == stock_state.keys()
    assert all(torch.equal(ours_state[k], stock_state[k]) for k in ours_state)
    assert our_losses.keys() == stock_losses.keys()
    for key in our_losses:
        assert torch.equal(our_losses[key], stock_losses[key]), key
    assert {"memorization/pred_is_clean_label", "memorization/pred_is_noisy_label"} <= our_scalars
    assert not stock_scalars
