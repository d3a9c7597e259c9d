#!/usr/bin/env python
"""Training-iteration time of NoisySemSegFPNHead with each loss vs stock SemSegFPNHead.

    python benchmarks/bench_sem_seg_heads.py [--iters 10] [--rounds 5]

Same toy Semantic FPN (configs/toy/semantic_R18_FPN_ce.py), same weights and the same batch of 8 toy label maps
for every variant; one iteration = forward + backward + SGD step. Rounds alternate between the variants and the
median per-iteration time is reported with its ratio to stock (target: within 5% for the pointwise losses;
Lovasz and region-aware are reported as they are).
"""

import argparse
import copy
import sys
from pathlib import Path

import torch

from detectron2.config import LazyConfig, instantiate
from detectron2.data import DatasetCatalog
from detectron2.modeling.meta_arch.semantic_seg import SemSegFPNHead

from noisy_seg.engine.benchmarking import alternating_medians, print_ratios, time_training_iters
from noisy_seg.data import NoisySemSegDatasetMapper

REPO = Path(__file__).resolve().parents[1]  # for configs/, which is not part of the installed package

VARIANTS = {
    "stock SemSegFPNHead": None,
    "noisy ce": ("ce", {}),
    "noisy sce": ("sce", {"alpha": 0.8, "beta": 0.2}),
    "noisy gce": ("gce", {"q": 0.4}),
    "noisy nce_rce": ("nce_rce", {}),
    "noisy combination": ("combination", {"bg_index": [0]}),
    "noisy focal": ("focal", {}),
    "noisy dice": ("dice", {}),
    "noisy lovasz": ("lovasz", {}),
    "noisy region_aware": ("region_aware", {"background_index": 0}),
}


def build(cfg, variant, state):
    cfg = copy.deepcopy(cfg)
    if variant is None:
        cfg.model.sem_seg_head._target_ = SemSegFPNHead
        for key in ("loss", "loss_kwargs", "loss_switch_iter"):
            del cfg.model.sem_seg_head[key]
    else:
        cfg.model.sem_seg_head.loss, cfg.model.sem_seg_head.loss_kwargs = variant
    model = instantiate(cfg.model)
    model.load_state_dict(state, strict=False)  # region-aware's confusion EMA is the only extra state
    model.train()
    return model, torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    cfg = LazyConfig.load(str(REPO / "configs/toy/semantic_R18_FPN_ce.py"))
    mapper = NoisySemSegDatasetMapper(
        is_train=True, augmentations=[], image_format="BGR", noise="semrelabel40", num_classes=19, background_label=0
    )
    batch = [mapper(d) for d in DatasetCatalog.get("toy_shapes_cityscapes_sem_seg_train")[:8]]
    torch.manual_seed(0)
    state = instantiate(cfg.model).state_dict()
    models = {name: build(cfg, variant, state) for name, variant in VARIANTS.items()}
    for model, optim in models.values():
        time_training_iters(model, optim, batch, 2)  # warm-up
    medians = alternating_medians(
        {name: (lambda mo=mo: time_training_iters(*mo, batch, args.iters)) for name, mo in models.items()}, args.rounds
    )
    print(
        f"toy Semantic FPN R18, batch 8 (128x128), {args.rounds} alternating rounds x {args.iters} iters, "
        f"torch threads {torch.get_num_threads()}; median time per training iteration:"
    )
    print_ratios(medians, "ms", width=24)
    return 0


if __name__ == "__main__":
    sys.exit(main())
