"""A semantic model over a dataset: detectron2's test mapper on records whose label maps it does not read, and the
(C, H, W) logits of each image, plain or averaged over scales and horizontal flips (the pseudo labels' test-time
augmentation, Wang et al. 2022). Label-error finding and pseudo labels both predict through here.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from detectron2.data import DatasetMapper

__all__ = ["multiscale_logits", "semantic_inputs", "semantic_mapper"]

RECORD_INDEX = "record_index"  # carried through the mapper, so each output finds its record


def semantic_inputs(records: Sequence[dict], indices: Optional[Sequence[int]] = None) -> list[dict]:
    """The records to map (those at `indices`, default all), each with its position under RECORD_INDEX and without
    its label map, which the test mapper would read and resize for nothing."""
    indices = range(len(records)) if indices is None else indices
    return [{**{k: v for k, v in records[i].items() if k != "sem_seg_file_name"}, RECORD_INDEX: i} for i in indices]


def semantic_mapper(augmentations: Sequence = (), image_format: str = "BGR") -> DatasetMapper:
    """detectron2's test-time DatasetMapper with the config's test augmentations and image format."""
    return DatasetMapper(is_train=False, augmentations=list(augmentations), image_format=image_format)


def _device_of(model) -> torch.device:
    device = getattr(model, "device", None)
    if device is not None:
        return torch.device(device)
    parameter = next(iter(model.parameters()), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _resized(image: torch.Tensor, scale: float) -> torch.Tensor:
    if scale == 1.0:
        return image  # exactly the plain single-scale input
    height, width = image.shape[-2:]
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    return F.interpolate(image[None].float(), size=size, mode="bilinear", align_corners=False)[0]


def multiscale_logits(
    model, inputs: Sequence[dict], scales: Sequence[float] = (1.0,), flip: bool = False
) -> list[torch.Tensor]:
    """The (C, H, W) logits of each input averaged over `scales` and, with `flip`, the horizontally flipped image
    (the defaults: the model's plain prediction).

    `model` is a detectron2 semantic model in eval mode (its output per image: {"sem_seg": (C, H, W) logits at the
    input's "height" x "width"}); `inputs` are a test loader's batch. Each scaled (and flipped) image keeps the
    original "height"/"width", so the model's post-processing resizes its logits back to one size; a flipped
    image's logits are flipped back before averaging. One forward per scale holds the whole batch and its flips.
    """
    device = _device_of(model)
    images = [x["image"].to(device) for x in inputs]
    sizes = [(x.get("height", image.shape[-2]), x.get("width", image.shape[-1])) for x, image in zip(inputs, images)]
    totals: list[Optional[torch.Tensor]] = [None] * len(images)
    with torch.inference_mode():
        for scale in scales:
            scaled = [_resized(image, float(scale)) for image in images]
            batch = [{"image": image, "height": h, "width": w} for image, (h, w) in zip(scaled, sizes)]
            if flip:
                batch += [{"image": image.flip(-1), "height": h, "width": w} for image, (h, w) in zip(scaled, sizes)]
            for position, output in enumerate(model(batch)):
                index, flipped = position % len(images), position >= len(images)
                logits = output["sem_seg"].float()
                logits = logits.flip(-1) if flipped else logits
                if totals[index] is None:
                    totals[index] = logits.clone()  # the model's own tensor is never written to
                else:
                    totals[index] += logits
    views = len(scales) * (2 if flip else 1)
    return [total / views for total in totals]
