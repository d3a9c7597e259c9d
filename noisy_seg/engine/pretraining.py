"""Pretraining a config's backbone on the procedural corpus (`noisy_seg.data.datasets.pretraining_corpus`), as an
ImageNet checkpoint is made for detectron2: the bottom-up network of `model.backbone` (a ResNet), trained on a
classification task (`task="classification"`: the centred object's class, global pooling + a linear layer on the
last stage) or a dense one (`task="dense"`: every pixel's class in scenes of several objects, a light top-down head
over all stages), written as a detectron2 checkpoint whose keys are the target model's
(`backbone.bottom_up.res2.0.conv1.weight`, ...): `train.init_checkpoint` loads it, the heads start from scratch.

    settings = PretrainSettings(config="toy/mask_rcnn_R18_FPN_ce.py", task="classification", iterations=2400)
    pretrain_backbone(settings, "output/pretrain/model_final.pth")

Every sample is drawn from (seed, index): a run is the same on every machine up to the floating point of its
kernels, and needs no data on disk. tools/pretrain_backbone.py is its command line.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from detectron2.config import instantiate
from detectron2.layers import Conv2d, get_norm
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import CosineParamScheduler

from ..data.datasets.pretraining_corpus import CLASSES, CORPUS_VERSION, CorpusSettings, render_object, render_scene
from ..utils.errors import UserInputError
from ..utils.files import atomic_output, file_sha256, save_json_atomic
from .config_files import load_lazy_config

__all__ = ["PretrainSettings", "pretrain_backbone", "pretraining_model"]

logger = logging.getLogger("noisy_seg")

TASKS = ("classification", "dense")
BACKBONE_PREFIX = "backbone.bottom_up."  # where a LazyConfig's FPN keeps its ResNet: the checkpoint's key prefix


@dataclass(frozen=True)
class PretrainSettings:
    """What a pretraining run is made of (recorded in its manifest; the same settings give the same weights)."""

    config: str = "toy/mask_rcnn_R18_FPN_ce.py"  # whose model.backbone.bottom_up is trained (a name or a path)
    task: str = "classification"
    iterations: int = 2400
    batch_size: int = 128
    image_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_iters: int = 200
    seed: int = 0
    val_images: int = 2048

    def __post_init__(self):
        if self.task not in TASKS:
            raise UserInputError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        for name, minimum in (("iterations", 1), ("batch_size", 1), ("warmup_iters", 0), ("val_images", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise UserInputError(f"{name} must be an int >= {minimum}, got {value!r}")
        for name in ("lr", "weight_decay"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (math.isfinite(value) and value >= 0)
            ):
                raise UserInputError(f"{name} must be a finite number >= 0, got {value!r}")
        try:
            CorpusSettings(self.seed, self.image_size)
        except ValueError as err:
            raise UserInputError(str(err)) from None


class _Corpus(torch.utils.data.Dataset):
    """Samples `offset .. offset + length - 1` of a corpus split, as (CHW uint8 BGR tensor, class or label map)."""

    def __init__(self, settings: PretrainSettings, split: str, length: int):
        self.corpus = CorpusSettings(settings.seed, settings.image_size)
        self.render = render_object if settings.task == "classification" else render_scene
        self.split, self.length = split, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        image, target = self.render(self.corpus, self.split, index)
        return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))), torch.as_tensor(target).long()


class _DenseHead(nn.Module):
    """A light top-down head for the dense pretext: every stage to `channels` (1x1), summed coarse to fine, a 3x3
    conv and a classifier at the finest stage's stride, upsampled to the image."""

    def __init__(self, in_channels: dict, num_classes: int, channels: int = 64):
        super().__init__()
        self.names = sorted(in_channels, key=lambda name: -int(name[-1]))  # coarse to fine: res5 ... res2
        self.lateral = nn.ModuleDict({n: Conv2d(in_channels[n], channels, 1) for n in self.names})
        self.smooth = Conv2d(channels, channels, 3, padding=1, norm=get_norm("BN", channels), activation=F.relu)
        self.predictor = Conv2d(channels, num_classes, 1)

    def forward(self, features: dict, size) -> torch.Tensor:
        top = None
        for name in self.names:
            lateral = self.lateral[name](features[name])
            top = lateral if top is None else lateral + F.interpolate(top, size=lateral.shape[-2:], mode="nearest")
        return F.interpolate(self.predictor(self.smooth(top)), size=size, mode="bilinear", align_corners=False)


class _PretrainingModel(nn.Module):
    """The config's backbone bottom-up network with the pretext head of `task`; inputs are normalised with the
    config model's pixel_mean / pixel_std (BGR), as the detector will feed the backbone."""

    def __init__(self, bottom_up: nn.Module, task: str, pixel_mean, pixel_std):
        super().__init__()
        self.bottom_up, self.task = bottom_up, task
        shapes = bottom_up.output_shape()
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean, dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std, dtype=torch.float32).view(-1, 1, 1), False)
        if task == "classification":
            last = max(shapes, key=lambda name: shapes[name].stride)
            self.last, self.head = last, nn.Linear(shapes[last].channels, len(CLASSES))
        else:
            self.head = _DenseHead({name: shape.channels for name, shape in shapes.items()}, len(CLASSES) + 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.bottom_up((images.float() - self.pixel_mean) / self.pixel_std)
        if self.task == "classification":
            return self.head(features[self.last].mean(dim=(2, 3)))
        return self.head(features, images.shape[-2:])


def pretraining_model(settings: PretrainSettings) -> _PretrainingModel:
    """The bottom-up network of `settings.config`'s model.backbone, built as the config builds it, with the pretext
    head of `settings.task`."""
    cfg = load_lazy_config(settings.config, ())
    bottom_up = cfg.model.get("backbone", {}).get("bottom_up", None)
    if bottom_up is None:
        raise UserInputError(f"{settings.config}: model.backbone has no bottom_up (an FPN over a ResNet) to pretrain")
    return _PretrainingModel(instantiate(bottom_up), settings.task, cfg.model.pixel_mean, cfg.model.pixel_std)


def pretrain_backbone(
    settings: PretrainSettings,
    output: str,
    *,
    num_workers: int = 1,
    progress: bool = True,
    log_period: int = 100,
    command: Optional[str] = None,
) -> dict:
    """Train, evaluate on the corpus' val split and write `output` (a detectron2 checkpoint of the bottom-up
    network under BACKBONE_PREFIX, in float16: half the size, and loading casts it to the model's float32) and
    `<output>.json`, its manifest (settings, corpus version, val score, minutes, sha256 and the `command` that made
    it); returns the manifest. `output` must not exist."""
    output = Path(output)
    if output.exists():
        raise UserInputError(f"{output} exists: choose a new file, or remove it to pretrain again")
    torch.manual_seed(settings.seed)
    model = pretraining_model(settings)
    loader = torch.utils.data.DataLoader(
        _Corpus(settings, "train", settings.iterations * settings.batch_size),
        batch_size=settings.batch_size,
        num_workers=num_workers,
        shuffle=False,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    schedule = WarmupParamScheduler(
        CosineParamScheduler(1.0, 0.0), warmup_factor=0.001, warmup_length=settings.warmup_iters / settings.iterations
    )
    start = time.monotonic()
    model.train()
    for iteration, (images, targets) in enumerate(tqdm(loader, desc="pretraining", unit="it", disable=not progress)):
        for group in optimizer.param_groups:
            group["lr"] = settings.lr * schedule(iteration / settings.iterations)
        loss = F.cross_entropy(model(images), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if (iteration + 1) % log_period == 0:
            logger.info("pretraining iteration %d/%d: loss %.4f", iteration + 1, settings.iterations, loss.item())
    minutes = (time.monotonic() - start) / 60
    score = evaluate(model, settings, num_workers)
    manifest = {
        "settings": dataclasses.asdict(settings),
        "corpus_version": CORPUS_VERSION,
        "num_classes": len(CLASSES),
        "val": score,
        "train_minutes": round(minutes, 2),
        "torch": torch.__version__,
        "command": command,
    }
    _save(model.bottom_up, output, manifest)
    manifest["sha256"] = file_sha256(output)
    save_json_atomic(manifest, output.with_suffix(output.suffix + ".json"), indent=True)
    return manifest


@torch.no_grad()
def evaluate(model: _PretrainingModel, settings: PretrainSettings, num_workers: int = 1) -> dict:
    """Top-1 accuracy (classification) or pixel accuracy and mean IoU over the classes present (dense) on the
    corpus' val split."""
    model.eval()
    loader = torch.utils.data.DataLoader(
        _Corpus(settings, "val", settings.val_images), batch_size=settings.batch_size, num_workers=num_workers
    )
    num_classes = len(CLASSES) + (settings.task == "dense")
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for images, targets in loader:
        predicted = model(images).argmax(dim=1)
        confusion += torch.bincount(
            targets.flatten() * num_classes + predicted.flatten(), minlength=num_classes**2
        ).view(num_classes, num_classes)
    model.train()
    correct, total = confusion.diag().sum().item(), confusion.sum().item()
    if settings.task == "classification":
        return {"top1": correct / total}
    union = confusion.sum(0) + confusion.sum(1) - confusion.diag()
    present = confusion.sum(1) > 0
    return {"pixel_accuracy": correct / total, "miou": (confusion.diag()[present] / union[present]).mean().item()}


def _save(bottom_up: nn.Module, output: Path, manifest: dict) -> None:
    state = {
        BACKBONE_PREFIX + key: value.detach().half() if value.is_floating_point() else value.detach().clone()
        for key, value in bottom_up.state_dict().items()
    }
    with atomic_output(output, suffix=".pth") as temp:
        torch.save(
            {
                "model": state,
                "__author__": "noisy_seg tools/pretrain_backbone.py",
                "pretraining": {k: manifest[k] for k in ("settings", "corpus_version", "val")},
            },
            temp,
        )
