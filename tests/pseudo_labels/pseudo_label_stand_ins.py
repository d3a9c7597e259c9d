"""Stand-ins shared by the semantic pseudo-label tests (imported by name: pytest puts this folder on sys.path): a
model whose logits are known, and a tagged copy of the tiny toy val set (the layout of a weak split: image_tags
plus the true maps, kept for measurement)."""

import copy

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from detectron2.data import DatasetCatalog, MetadataCatalog

VAL = "toy_tiny_cityscapes_sem_seg_val"
TAGGED = "toy_tiny_pseudo_tagged_val"
NUM_CLASSES = 19


class CountingModel(torch.nn.Module):
    """A stand-in for a detectron2 semantic model in eval mode: per input, (C, height, width) logits that are a
    fixed per-class affine function of the input image's first channel, resized to the output size; counts its
    forward calls and images, and can fail on a given call (an interrupted run)."""

    def __init__(self, num_classes: int = NUM_CLASSES, fail_on_call: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.register_buffer("weight", torch.randn(num_classes, generator=generator))
        self.register_buffer("bias", torch.randn(num_classes, generator=generator))
        self.calls = self.images = 0
        self.fail_on_call = fail_on_call

    def forward(self, batched_inputs):
        self.calls += 1
        self.images += len(batched_inputs)
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt("stopped")
        outputs = []
        for x in batched_inputs:
            channel = F.interpolate(
                x["image"][None, :1].float() / 255, size=(x["height"], x["width"]), mode="bilinear", align_corners=False
            )[0]
            outputs.append({"sem_seg": self.weight[:, None, None] * channel + self.bias[:, None, None]})
        return outputs


def _with_true_tags(record):
    label_map = np.asarray(Image.open(record["sem_seg_file_name"]))
    return {**copy.deepcopy(record), "image_tags": [int(c) for c in np.unique(label_map) if c != 255]}


def register_tagged_val() -> str:
    """The tiny val set (the tiny_toy fixture) with each image's true tags (the classes of its label map),
    registered once as TAGGED; returns its name."""
    if TAGGED not in DatasetCatalog.list():
        DatasetCatalog.register(TAGGED, lambda: [_with_true_tags(r) for r in DatasetCatalog.get(VAL)])
        meta = {k: v for k, v in MetadataCatalog.get(VAL).as_dict().items() if k != "name"}
        MetadataCatalog.get(TAGGED).set(**meta)
    return TAGGED
