"""DatasetMappers that inject label noise on the fly, deterministically, before augmentation.

The noise is `noisy_seg.noise` (numpy, keyed on seed, image id and annotation id), so every epoch,
worker and rank sees the same noisy labels, identical to `tools/make_noisy_dataset.py`'s output.
"""

from __future__ import annotations

import copy
import logging
from typing import Mapping, Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image

import detectron2.data.detection_utils as utils
import detectron2.data.transforms as T
from detectron2.config import configurable
from detectron2.data import DatasetMapper
from detectron2.utils.file_io import PathManager

from ..noise import (
    NOISE_REGISTRY,
    BoundaryNoise,
    NoisePipeline,
    SemanticNoise,
    build_noise,
    build_semantic_noise,
    noise_spec,
    record_image_id,
)
from ..noise.mask_noise import SKIPPED_NAMES
from .datasets.coco_files import LOSS_WEIGHT
from .image_tags import read_tag_file, record_tags
from .yacs_noise import label_noise_from_cfg

logger = logging.getLogger(__name__)

NoiseSpec = Union[None, NoisePipeline, Mapping, Sequence[Mapping]]
_LABEL_STRIDE = 1 << 16  # > any class index: packs (noisy, clean) into one category_id
_POSITION_STRIDE = 1 << 32  # > any packed (noisy, clean): packs the annotation's position on top (int64 classes)
_UNCHANGED_TAGS = frozenset(("clean", *SKIPPED_NAMES))  # noise tags of annotations the noise left as they were
_CLEAN_MASKS = "_noisy_seg_clean_masks"  # the clean segmentations riding to _transform_annotations, popped there
NOISE_COUNTS = "noise_counts"  # key of a mapped dict's {"total", "changed"[, "class_flip"]} (noisy_seg.engine reads it)


class NoisyDatasetMapper(DatasetMapper):
    """`DatasetMapper` that corrupts the annotations of each image before augmentation.

    Args (in addition to DatasetMapper's):
        noise: a `NoisePipeline`, a spec such as ``{"type": "symmetric", "rate": 0.4, "seed": 0}``
            (see `noisy_seg.noise.build_noise`), a short name such as "sym40" or "coco_n_medium"
            (see `noisy_seg.noise.registry`), or None / "clean" for clean labels.
        num_classes: number of thing classes; needed when `noise` is a spec.
    From a yacs config: INPUT.LABEL_NOISE (a short name) or INPUT.LABEL_NOISE_SPEC (a spec), see
    `noisy_seg.config.add_noisy_seg_config`; num_classes is MODEL.ROI_HEADS.NUM_CLASSES.
    The `Instances` get `gt_classes` (noisy), `gt_clean_classes` and `gt_noisy` (class changed); under spatial noise
    also `gt_clean_masks` (the masks before the noise, transformed as `gt_masks`) and `gt_mask_noisy` (the noise
    changed the mask), for the mask head's memorization curve; and the mapped dict "noise_counts": of the image's
    non-crowd annotations, how many there were ("total"), how many the noise
    changed (dropped, class flipped or mask moved: "changed") and how many it gave another class ("class_flip").
    Only training mappers (`is_train=True`) apply noise: evaluation stays on the given labels.
    When the image's annotations carry a "loss_weight" (a number in [0, 1], checked before training by
    `check_loss_weights`), a training mapper, also without noise,
    gives the `Instances` `gt_loss_weights` (float32, one per instance; 1 for an annotation without one), for
    `NoisyFastRCNNOutputLayers(annotation_loss_weights=True)`.
    """

    @configurable
    def __init__(self, is_train: bool, *, noise: NoiseSpec = None, num_classes: Optional[int] = None, **kwargs):
        super().__init__(is_train, **kwargs)
        self.noise = self.build_noise(noise, num_classes)
        if is_train:
            logger.info("[%s] Label noise in training: %s", type(self).__name__, _describe(noise, self.noise))

    @classmethod
    def build_noise(cls, noise: NoiseSpec, num_classes: Optional[int]) -> Optional[NoisePipeline]:
        """The NoisePipeline of a `noise` argument (raises ValueError on a bad name or spec), None if clean."""
        return _built(noise, NoisePipeline, build_noise, num_classes, cls.__name__)

    @classmethod
    def from_config(cls, cfg, is_train: bool = True):
        ret = super().from_config(cfg, is_train)
        ret["noise"] = label_noise_from_cfg(cfg)  # INPUT.LABEL_NOISE or INPUT.LABEL_NOISE_SPEC
        ret["num_classes"] = cfg.MODEL.ROI_HEADS.NUM_CLASSES
        return ret

    def __call__(self, dataset_dict):
        if not self.is_train or "annotations" not in dataset_dict:
            return super().__call__(dataset_dict)
        weighted = any(LOSS_WEIGHT in ann for ann in dataset_dict["annotations"])
        if self.noise is None and not weighted:
            return super().__call__(dataset_dict)
        dataset_dict = dict(dataset_dict)  # shallow: the annotations list is replaced, not edited
        annotations, counts = dataset_dict["annotations"], None
        if self.noise is not None:
            image = None
            if self.noise.needs_image:  # instance-dependent noise looks at the instance crops
                image = utils.read_image(dataset_dict["file_name"], format="BGR")
            annotations = self.noise.apply_to_annotations(
                dataset_dict["annotations"],
                dataset_dict["image_id"],
                image_hw=(dataset_dict["height"], dataset_dict["width"]),
                image=image,
            )
            counts = _annotation_counts(dataset_dict["annotations"], annotations)
            # (noisy, clean) travel together through detectron2's transforms and empty-instance filter
            # packed into category_id, and are unpacked right after.
            for ann in annotations:
                ann["category_id"] += _LABEL_STRIDE * ann["clean_category_id"]
        weights = None
        keep_clean_masks = self.noise is not None and self.noise.spatial_noise is not None and self.use_instance_mask
        if weighted:
            weights = _loss_weights(annotations)
        if keep_clean_masks:
            dataset_dict[_CLEAN_MASKS] = [
                ({**ann, "segmentation": ann["clean_segmentation"]}, True)
                if "clean_segmentation" in ann
                else (ann, False)
                for ann in annotations
            ]
        if weighted or keep_clean_masks:  # the annotation's position rides along: it picks each kept instance's extras
            annotations = [
                dict(ann, category_id=ann["category_id"] + _POSITION_STRIDE * position)
                for position, ann in enumerate(annotations)
            ]
        dataset_dict["annotations"] = annotations
        mapped = super().__call__(dataset_dict)
        if "instances" in mapped:
            instances = mapped["instances"]
            packed = instances.gt_classes
            if weights is not None:
                instances.gt_loss_weights = weights[packed // _POSITION_STRIDE]
            packed = packed % _POSITION_STRIDE
            instances.gt_classes = packed % _LABEL_STRIDE
            if self.noise is not None:
                instances.gt_clean_classes = packed // _LABEL_STRIDE
                instances.gt_noisy = instances.gt_classes != instances.gt_clean_classes
        if counts is not None:
            mapped[NOISE_COUNTS] = counts
        return mapped

    def _transform_annotations(self, dataset_dict, transforms, image_shape):
        clean = dataset_dict.pop(_CLEAN_MASKS, None)
        super()._transform_annotations(dataset_dict, transforms, image_shape)
        if clean is None:
            return
        instances = dataset_dict["instances"]
        if not instances.has("gt_masks"):  # no annotation left (detectron2 builds no gt_masks then)
            return
        positions = (instances.gt_classes // _POSITION_STRIDE).tolist()  # the kept annotations, in their order
        kept = [clean[p] for p in positions]
        annotations = [utils.transform_instance_annotations(dict(ann), transforms, image_shape) for ann, _ in kept]
        instances.gt_clean_masks = utils.annotations_to_instances(
            annotations, image_shape, mask_format=self.instance_mask_format
        ).gt_masks
        instances.gt_mask_noisy = torch.tensor([changed for _, changed in kept], dtype=torch.bool)


class NoisySemSegDatasetMapper(DatasetMapper):
    """Semantic-segmentation mapper that corrupts `sem_seg` per connected component before augmentation.

    Args (in addition to DatasetMapper's):
        noise: a `SemanticNoise` or `BoundaryNoise`, a spec ``{"type": "semantic", "rate": 0.3, ...}`` or a short
            name such as "sem30", "semrelabel40_s1" or "boundary5"; None / "clean" = clean.
        num_classes: number of semantic classes; needed when `noise` is a spec.
        ignore_label: the label of unlabelled pixels (the head's ignore_value); without noise, the one value outside
            [0, num_classes) a training label map may hold (a noise model checks against its own).
        background_label: the dataset's background class, if it has one (toy data: 0, road): given to noise
            specs and names that take a ``background_label`` and do not set it, so that component noise leaves
            background regions alone and "background" ops can relabel to it.
        keep_clean_sem_seg: also return the augmented clean map as "sem_seg_clean" (memorization curves).
        image_tags: also return "present_classes", a bool (num_classes,) tensor of image-level tags for class-aware
            CE: the record's tags (`noisy_seg.data.image_tags`: its "image_tags", else its entry in `tag_file`,
            by image id or file stem); an image without tags takes the classes of its training label map (exact
            for a fully labelled image).
        tag_file: a json {image id or image file stem: [class index or name, ...]}; implies image_tags. Names are
            looked up in `class_names` (e.g. the dataset's stuff_classes). Read when the mapper is built; its keys
            are checked against the training set before launch (`noisy_seg.engine.check_image_tags`, or
            `noisy_seg.data.image_tags.check_tag_keys` from Python).
    From a yacs config: INPUT.LABEL_NOISE or INPUT.LABEL_NOISE_SPEC, MODEL.SEM_SEG_HEAD.NUM_CLASSES and
    IGNORE_VALUE, INPUT.LABEL_NOISE_BACKGROUND (see `noisy_seg.config.add_noisy_seg_config`), keep_clean_sem_seg on.
    Training label maps are read at their own depth (8- or 16-bit PNGs: detectron2 reads 8 bits, which clips
    values above 255 to 255) and checked, with or without noise: values in [0, num_classes) or the ignore label
    (when num_classes is known), the image's size.
    A noisy training map also gives the mapped dict "noise_counts": {"total": non-ignored pixels of the clean map,
    "changed": those the noise gave another label}, counted before augmentation.
    """

    @configurable
    def __init__(
        self,
        is_train: bool,
        *,
        noise=None,
        num_classes: Optional[int] = None,
        ignore_label: int = 255,
        background_label: Optional[int] = None,
        keep_clean_sem_seg: bool = False,
        image_tags: bool = False,
        tag_file: Optional[str] = None,
        class_names: Optional[Sequence[str]] = None,
        **kwargs,
    ):
        super().__init__(is_train, **kwargs)
        self.noise = self.build_noise(noise, num_classes, background_label, ignore_label)
        if is_train:
            logger.info("[%s] Label noise in training: %s", type(self).__name__, _describe(noise, self.noise))
        self.keep_clean_sem_seg = keep_clean_sem_seg
        image_tags = image_tags or tag_file is not None
        if image_tags and num_classes is None:
            raise ValueError(f"{type(self).__name__}: image_tags needs num_classes (the length of the tag vector)")
        self.num_classes = num_classes
        self.ignore_label = ignore_label
        self.image_tags = image_tags
        self.tags = read_tag_file(tag_file, num_classes, class_names) if tag_file is not None else {}

    @classmethod
    def build_noise(
        cls,
        noise,
        num_classes: Optional[int],
        background_label: Optional[int] = None,
        ignore_label: Optional[int] = None,
    ) -> Optional[Union[SemanticNoise, BoundaryNoise]]:
        """The semantic noise model of a `noise` argument (raises ValueError on a bad name or spec), None if clean.
        The dataset's `background_label` and `ignore_label` go to a name or spec whose type takes them and that does
        not set them itself (a short name cannot carry them)."""
        dataset_keys = {
            key: value
            for key, value in (("background_label", background_label), ("ignore_label", ignore_label))
            if value is not None
        }
        if dataset_keys and not isinstance(noise, (SemanticNoise, BoundaryNoise)):
            spec = noise_spec(_plain(noise))
            if isinstance(spec, dict):
                allowed = getattr(NOISE_REGISTRY.get(spec.get("type")), "allowed", ())
                noise = {**{key: value for key, value in dataset_keys.items() if key in allowed}, **spec}
        return _built(noise, (SemanticNoise, BoundaryNoise), build_semantic_noise, num_classes, cls.__name__)

    @classmethod
    def from_config(cls, cfg, is_train: bool = True):
        ret = super().from_config(cfg, is_train)
        background = cfg.INPUT.get("LABEL_NOISE_BACKGROUND", -1)
        ret.update(
            noise=label_noise_from_cfg(cfg),
            num_classes=cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES,
            ignore_label=cfg.MODEL.SEM_SEG_HEAD.IGNORE_VALUE,
            background_label=None if background < 0 else background,
            keep_clean_sem_seg=True,
        )  # under noise: memorization curves (NoisySemanticSegmentor)
        return ret

    def __call__(self, dataset_dict):
        if not self.is_train or "sem_seg_file_name" not in dataset_dict:
            mapped = super().__call__(dataset_dict)
            if self.image_tags and self.is_train:
                mapped["present_classes"] = self._present_classes(dataset_dict, mapped.get("sem_seg"))
            return mapped
        dataset_dict = copy.deepcopy(dataset_dict)
        image = utils.read_image(dataset_dict["file_name"], format=self.image_format)
        utils.check_image_size(dataset_dict, image)
        label_file = dataset_dict.pop("sem_seg_file_name")
        clean = self._checked_label_map(label_file, image.shape[:2], dataset_dict["file_name"])
        labels = clean
        if self.noise is not None:
            plan = None
            if hasattr(self.noise, "apply_with_plan"):  # component noise: count components too
                labels, plan = self.noise.apply_with_plan(clean, record_image_id(dataset_dict))
            else:
                labels = self.noise.apply(clean, record_image_id(dataset_dict))
            labelled = clean != self.noise.ignore_label
            dataset_dict[NOISE_COUNTS] = {
                "total": int(np.count_nonzero(labelled)),
                "changed": int(np.count_nonzero((labels != clean) & labelled)),
            }
            if plan is not None:
                changed = sum(op is not None for op in plan.ops.tolist())
                dataset_dict[NOISE_COUNTS].update(components=len(plan.keys), changed_components=changed)
        aug_input = T.AugInput(image, sem_seg=_augmentable(labels))
        transforms = self.augmentations(aug_input)
        image, labels = aug_input.image, aug_input.sem_seg
        dataset_dict["image"] = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))
        dataset_dict["sem_seg"] = torch.as_tensor(labels.astype("long"))
        if self.keep_clean_sem_seg and self.noise is not None:
            dataset_dict["sem_seg_clean"] = torch.as_tensor(
                transforms.apply_segmentation(_augmentable(clean)).astype("long")
            )
        if self.image_tags:
            dataset_dict["present_classes"] = self._present_classes(dataset_dict, dataset_dict["sem_seg"])
        dataset_dict.pop("annotations", None)
        return dataset_dict

    def _checked_label_map(self, label_file: str, image_hw, image_file: str) -> np.ndarray:
        """The training label map, checked: the image's size, values in [0, K) or the ignore label."""
        label_map = read_label_map(label_file)
        if label_map.shape != tuple(image_hw):
            (height, width), (image_height, image_width) = label_map.shape, image_hw
            raise ValueError(
                f"{label_file}: the label map is {width}x{height} (WxH) but its image {image_file} is "
                f"{image_width}x{image_height}; a label map must match its image pixel for pixel"
            )
        if self.noise is not None:
            _check_label_values(label_map, self.noise.num_classes, self.noise.ignore_label, label_file)
        elif self.num_classes is not None:
            _check_label_values(label_map, self.num_classes, self.ignore_label, label_file)
        return label_map

    def _present_classes(self, record, sem_seg) -> torch.Tensor:
        present = torch.zeros(self.num_classes, dtype=torch.bool)
        tags = record_tags(record, self.tags, self.num_classes)
        if tags is not None:
            present[tags] = True
        elif sem_seg is not None:
            values = torch.unique(sem_seg)
            present[values[(values >= 0) & (values < self.num_classes)]] = True
        return present


def _loss_weights(annotations) -> torch.Tensor:
    """(len(annotations),) float32: each annotation's "loss_weight", 1 where it has none (checked before training:
    `noisy_seg.data.datasets.coco_files.check_loss_weights`)."""
    return torch.tensor([ann.get(LOSS_WEIGHT, 1.0) for ann in annotations], dtype=torch.float32)


def _annotation_counts(annotations, noisy_annotations) -> dict:
    """{"total", "changed", "class_flip"} over an image's non-crowd annotations (crowd ones are never noised);
    `noisy_annotations` are the kept ones, each with its noise tag."""
    total = sum(not a.get("iscrowd", 0) for a in annotations)
    dropped = len(annotations) - len(noisy_annotations)
    return {
        "total": total,
        "changed": dropped + sum(a["noise"] not in _UNCHANGED_TAGS for a in noisy_annotations),
        "class_flip": sum(a["category_id"] != a["clean_category_id"] for a in noisy_annotations),
    }


def _describe(noise, model) -> str:
    """One log line: the noise as given (a name, a spec) and the model the mapper built from it."""
    if model is None or getattr(model, "is_clean", False):
        return "none (clean labels)"
    given = _plain(noise)
    if isinstance(given, (str, Mapping, list, tuple)):
        return f"{given} -> {model!r}"
    return repr(model)


def read_label_map(path: str) -> np.ndarray:
    """(H, W) class ids of a label map file at its own depth: uint8, or uint16 for a 16-bit PNG (detectron2's
    read_image(path, "L") converts to 8 bits, which clips every value above 255 to 255, the ignore label). A palette
    PNG gives its indices. ValueError (one line) for an image that is not one channel of integers."""
    with PathManager.open(path, "rb") as f:
        label_map = np.asarray(Image.open(f))
    if label_map.ndim != 2 or label_map.dtype.kind not in "ui":
        raise ValueError(
            f"{path}: a label map must be one channel of class ids (an 8- or 16-bit PNG), got "
            f"{'x'.join(map(str, label_map.shape))} values of type {label_map.dtype}"
        )
    return label_map


def _augmentable(label_map: np.ndarray) -> np.ndarray:
    """A label map detectron2's transforms can resize: uint8 as it is; wider ids as float32 (exact below 2**24;
    resizing is nearest-neighbour, and torch has no nearest resize for uint16 or int32)."""
    return label_map if label_map.dtype == np.uint8 else label_map.astype(np.float32)


def _check_label_values(label_map: np.ndarray, num_classes: int, ignore_label: int, label_file: str) -> None:
    """Training (and noise) takes the classes [0, K): a value outside them that is not the ignore label is a wrong
    map (or a wrong num_classes), said at load rather than trained on."""
    if label_map.max() < num_classes and (label_map.dtype.kind == "u" or label_map.min() >= 0):
        return  # the usual case: one max per image, no sort, in the data loader
    outside = (label_map >= num_classes) | (label_map < 0) if label_map.dtype.kind == "i" else label_map >= num_classes
    bad = np.unique(label_map[outside & (label_map != ignore_label)])
    if bad.size:
        raise ValueError(
            f"{label_file}: label value(s) {bad.tolist()[:5]} are neither a class in "
            f"[0, {num_classes}) nor the ignore label {ignore_label}; check num_classes and that the "
            "file holds train ids"
        )


def _built(noise, model_type, builder, num_classes, owner: str):
    """A noise model from a model, a spec (built for `num_classes`) or None."""
    if noise is None or noise == "clean" or isinstance(noise, model_type):
        return None if noise == "clean" else noise
    if num_classes is None:
        raise ValueError(f"{owner}: a noise spec needs num_classes (the number of classes)")
    return builder(_plain(noise), num_classes)


def _plain(spec):
    """OmegaConf containers (from LazyConfig/yacs) -> plain dicts/lists for the numpy noise core."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(spec, (DictConfig, ListConfig)):
            return OmegaConf.to_container(spec, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf ships with detectron2
        pass
    return spec
