#!/usr/bin/env python
"""Training-iteration time of NoisyStandardROIHeads with each loss vs stock StandardROIHeads.

    python benchmarks/bench_roi_heads.py [--iters 10] [--rounds 5]

Same toy Mask R-CNN (configs/toy/mask_rcnn_R18_FPN_ce.py), same weights and the same batch of 4 toy
images for every variant; one iteration = forward + backward + SGD step. Rounds alternate between the
variants and the median per-iteration time is reported with its ratio to stock (target: within 3%).
"""

import argparse
import copy
import sys
from pathlib import Path

import torch

import detectron2.data.transforms as T
from detectron2.config import LazyConfig, instantiate
from detectron2.data import DatasetCatalog

from noisy_seg.engine.benchmarking import alternating_medians, print_ratios, time_training_iters
from noisy_seg.config import use_noisy_roi_heads
from noisy_seg.data import NoisyDatasetMapper

REPO = Path(__file__).resolve().parents[1]  # for configs/, which is not part of the installed package

VARIANTS = {
    "stock StandardROIHeads": None,
    "noisy ce": ("ce", {}),
    "noisy sce": ("sce", {"alpha": 1.0, "beta": 0.1}),
    "noisy gce": ("gce", {"q": 0.3}),
    "noisy nce_rce": ("nce_rce", {}),
    "noisy combination": ("combination", {}),
}


def build(cfg, variant, state):
    cfg = copy.deepcopy(cfg)
    if variant is not None:
        use_noisy_roi_heads(cfg.model, cls_loss=variant[0], cls_loss_kwargs=variant[1])
    model = instantiate(cfg.model)
    model.load_state_dict(state)
    model.train()
    return model, torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    cfg = LazyConfig.load(str(REPO / "configs/toy/mask_rcnn_R18_FPN_ce.py"))
    mapper = NoisyDatasetMapper(
        is_train=True,
        augmentations=[T.NoOpTransform()],
        image_format="BGR",
        use_instance_mask=True,
        noise="sym40",
        num_classes=8,
    )
    batch = [mapper(d) for d in DatasetCatalog.get("toy_shapes_train")[:4]]
    torch.manual_seed(0)
    state = instantiate(cfg.model).state_dict()
    models = {name: build(cfg, variant, state) for name, variant in VARIANTS.items()}
    for model, optim in models.values():
        time_training_iters(model, optim, batch, 2, reseed=True)  # warm-up
    medians = alternating_medians(
        {name: (lambda mo=mo: time_training_iters(*mo, batch, args.iters, reseed=True)) for name, mo in models.items()},
        args.rounds,
    )
    print(
        f"toy Mask R-CNN R18-FPN, batch 4 (128x128), {args.rounds} alternating rounds x {args.iters} iters, "
        f"torch threads {torch.get_num_threads()}; median time per training iteration:"
    )
    print_ratios(medians, "ms", width=24)
    return 0


if __name__ == "__main__":
    sys.exit(main())
