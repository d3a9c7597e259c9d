#!/usr/bin/env python
"""Training-iteration time of the noisy mask heads with each mask loss vs detectron2's stock MaskRCNNConvUpsampleHead.

    python benchmarks/bench_mask_head.py [--iters 10] [--rounds 5] [--noise coco_n_medium] [--head-only]

Two measurements, each in alternating rounds with the median per iteration and its ratio to stock:
- the mask head alone: forward + backward of the head on the RoI features and foreground RoIs the toy Mask R-CNN
  hands it for one batch (captured once, the same for every variant);
- the whole toy Mask R-CNN (configs/toy/mask_rcnn_R18_FPN_ce.py): forward + backward + SGD step on 4 toy images.
The batch is mapped with the label noise given (default COCO-N medium), so the noisy heads also pay for their mask
memorization curve (the clean masks cropped per RoI); stock has none. Target: <= 1.05x on the CPU.
"""

import argparse
import copy
import statistics
import sys
from pathlib import Path

import torch

import detectron2.data.transforms as T
from detectron2.config import LazyConfig, instantiate
from detectron2.data import DatasetCatalog
from detectron2.utils.events import EventStorage

from noisy_seg.config import use_noisy_roi_heads
from noisy_seg.data import NoisyDatasetMapper
from noisy_seg.engine.benchmarking import alternating_medians, print_ratios, time_training_iters, work_clock

REPO = Path(__file__).resolve().parents[1]  # for configs/, which is not part of the installed package

VARIANTS = {
    "stock MaskRCNNConvUpsampleHead": None,
    "noisy bce": ("bce", {}, False),
    "noisy sbce": ("sbce", {"alpha": 1.0, "beta": 0.1}, False),
    "noisy pixel_gce": ("pixel_gce", {}, False),
    "noisy bootstrap_soft": ("bootstrap_soft", {}, False),
    "noisy bootstrap_hard": ("bootstrap_hard", {}, False),
    "noisy boundary_bce (mask px)": ("boundary_bce", {"band_width": 1.0}, False),
    "noisy boundary_bce (image px)": ("boundary_bce", {"band_width": 2.0, "band_unit": "image"}, False),
    "noisy dice_bce": ("dice_bce", {}, False),
    "noisy bpm_bce": ("bpm_bce", {}, False),
    "noise-tolerant head, bpm_bce": ("bpm_bce", {}, True),
}


def build(cfg, variant, state):
    cfg = copy.deepcopy(cfg)
    if variant is not None:
        name, kwargs, noise_tolerant = variant
        use_noisy_roi_heads(cfg.model, mask_loss=name, mask_loss_kwargs=kwargs, noise_tolerant_mask_head=noise_tolerant)
    model = instantiate(cfg.model)
    model.load_state_dict(state, strict=False)  # the noise-tolerant head's coarse branch keeps its own init
    model.train()
    return model, torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)


def head_inputs(model, batch):
    """The mask head's inputs for this batch: the pooled RoI features and the foreground RoIs (seeded sampling)."""
    captured = {}
    head = model.roi_heads.mask_head
    hook = head.register_forward_pre_hook(lambda module, args: captured.setdefault("args", args))
    torch.manual_seed(0)
    with EventStorage(0):
        model(batch)
    hook.remove()
    features, instances = captured["args"]
    return features.detach(), instances


def time_head(head, features, instances, iters: int) -> float:
    clock = work_clock(features.device.type)
    times = []
    with EventStorage(1):  # not a writer's iteration: the curve accumulates on the device, as in training
        for _ in range(iters):
            x = features.clone().requires_grad_(True)
            start = clock()
            losses = head(x, instances)
            sum(losses.values()).backward()
            times.append(clock() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--noise", default="coco_n_medium", help="the train mapper's label noise (a short name)")
    parser.add_argument("--head-only", action="store_true", help="time the mask head alone, not the whole model")
    args = parser.parse_args(argv)

    cfg = LazyConfig.load(str(REPO / "configs/toy/mask_rcnn_R18_FPN_ce.py"))
    mapper = NoisyDatasetMapper(
        is_train=True,
        augmentations=[T.NoOpTransform()],
        image_format="BGR",
        use_instance_mask=True,
        noise=args.noise,
        num_classes=8,
    )
    batch = [mapper(d) for d in DatasetCatalog.get("toy_shapes_train")[:4]]
    torch.manual_seed(0)
    state = instantiate(cfg.model).state_dict()
    models = {name: build(cfg, variant, state) for name, variant in VARIANTS.items()}
    features, instances = head_inputs(models["noisy bce"][0], batch)
    rois = sum(len(i) for i in instances)

    heads = {name: model.roi_heads.mask_head for name, (model, _) in models.items()}
    for head in heads.values():
        time_head(head, features, instances, 2)  # warm-up
    head_medians = alternating_medians(
        {name: (lambda h=h: time_head(h, features, instances, args.iters)) for name, h in heads.items()}, args.rounds
    )
    print(
        f"mask head alone ({rois} foreground RoIs, {tuple(features.shape[1:])} features, noise {args.noise}), "
        f"{args.rounds} alternating rounds x {args.iters} iters, torch threads {torch.get_num_threads()}, "
        f"clock {work_clock().__name__}; "
        "median forward + backward:"
    )
    print_ratios(head_medians, "ms", width=32)
    if args.head_only:
        return 0

    for model, optim in models.values():
        time_training_iters(model, optim, batch, 2, reseed=True)  # warm-up
    model_medians = alternating_medians(
        {name: (lambda mo=mo: time_training_iters(*mo, batch, args.iters, reseed=True)) for name, mo in models.items()},
        args.rounds,
    )
    print("whole toy Mask R-CNN R18-FPN, batch 4 (128x128); median time per training iteration:")
    print_ratios(model_medians, "ms", width=32)
    return 0


if __name__ == "__main__":
    sys.exit(main())
