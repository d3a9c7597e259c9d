"""Checks of a LazyConfig before anything is built or launched: one UserInputError line for values that would
otherwise fail deep inside training (after the model is built, in a worker process, or silently)."""
from __future__ import annotations

import numbers

from omegaconf import DictConfig, OmegaConf

from detectron2.config import instantiate
from detectron2.config.instantiate import locate
from detectron2.data import DatasetCatalog, MetadataCatalog

from ..utils.errors import UserInputError

__all__ = ["check_annotation_weights", "check_config"]

# key, minimum (None: the key may be None)
_INT_KEYS = (("train.max_iter", 1, False), ("train.eval_period", 0, False), ("train.log_period", 1, False),
             ("train.checkpointer.period", 1, False), ("train.checkpointer.max_to_keep", 1, True),
             ("dataloader.train.total_batch_size", 1, False), ("dataloader.train.num_workers", 0, False),
             ("dataloader.test.num_workers", 0, True))


def _select(cfg, key):
    return OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)


def _check_ints(cfg) -> None:
    for key, minimum, may_be_none in _INT_KEYS:
        if OmegaConf.select(cfg, key, default="missing") == "missing":
            continue  # the config does not have it
        value = _select(cfg, key)
        if value is None and may_be_none:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise UserInputError(f"{key} must be an int >= {minimum}, got {value!r}")
    lr = _select(cfg, "optimizer.lr")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0):
        raise UserInputError(f"optimizer.lr must be a number > 0, got {lr!r}")
    device = _select(cfg, "train.device")
    if device is not None and (not isinstance(device, str) or device.split(":")[0] not in ("cuda", "cpu")):
        raise UserInputError(f"train.device must be 'cuda', 'cuda:N' or 'cpu', got {device!r}")


def _target(node):
    target = node.get("_target_") if isinstance(node, DictConfig) else None
    return locate(target) if isinstance(target, str) else target


def _check_noise(cfg) -> None:
    from ..data.mappers import NoisyDatasetMapper, NoisySemSegDatasetMapper

    for split in ("train", "test"):
        loader = _select(cfg, f"dataloader.{split}")
        mapper = loader.get("mapper") if isinstance(loader, DictConfig) else None
        target = _target(mapper)
        if not (isinstance(target, type) and issubclass(target, (NoisyDatasetMapper, NoisySemSegDatasetMapper))):
            continue
        noise = _select(cfg, f"dataloader.{split}.mapper.noise")
        num_classes = _select(cfg, f"dataloader.{split}.mapper.num_classes")
        key = f"dataloader.{split}.mapper.noise"
        extra = {}
        if issubclass(target, NoisySemSegDatasetMapper):
            extra["background_label"] = _select(cfg, f"dataloader.{split}.mapper.background_label")
        try:
            target.build_noise(OmegaConf.to_container(noise) if isinstance(noise, DictConfig) else noise, num_classes,
                               **extra)
        except ValueError as err:
            raise UserInputError(f"{key}={OmegaConf.to_container(noise) if isinstance(noise, DictConfig) else noise!r}"
                                 f": {err}") from None
        _check_num_classes(cfg, split, target, num_classes)


def _check_num_classes(cfg, split: str, mapper_type, num_classes) -> None:
    """num_classes of the mapper against the classes of the datasets it maps, when they are registered."""
    from ..data.mappers import NoisyDatasetMapper

    if num_classes is None:
        return
    names = _select(cfg, f"dataloader.{split}.dataset.names")
    names = [names] if isinstance(names, str) else list(names or [])
    field = "thing_classes" if issubclass(mapper_type, NoisyDatasetMapper) else "stuff_classes"
    for name in names:
        if name not in DatasetCatalog.list():
            continue  # reported, with the data check, when the run starts
        classes = MetadataCatalog.get(name).get(field, None)
        if classes is not None and len(classes) != num_classes:
            raise UserInputError(
                f"dataloader.{split}.mapper.num_classes={num_classes} but dataset '{name}' has {len(classes)} "
                f"{field.replace('_', ' ')}; set it to {len(classes)}"
            )


def check_config(cfg) -> None:
    """Raise UserInputError (one line) for a config that cannot train as given."""
    _check_ints(cfg)
    stop = _select(cfg, "train.stop_iter")
    max_iter = _select(cfg, "train.max_iter")
    if stop is not None and not (isinstance(stop, int) and 0 < stop <= max_iter):
        raise UserInputError(f"train.stop_iter={stop} must be in (0, train.max_iter={max_iter}]")
    _check_noise(cfg)


def check_annotation_weights(cfg) -> None:
    """With `annotation_loss_weights` on in a box predictor (a cascade's: `box_predictors.N`), the training records
    must carry "loss_weight" (`noisy_seg.data.datasets.coco_files.check_loss_weights`: loads them once). Run before
    training starts, not with every config load."""
    from ..data.datasets.coco_files import check_loss_weights

    predictors = [_select(cfg, "model.roi_heads.box_predictor"),
                  *(_select(cfg, "model.roi_heads.box_predictors") or [])]
    if not any(isinstance(p, DictConfig) and p.get("annotation_loss_weights", False) for p in predictors):
        return
    names = _select(cfg, "dataloader.train.dataset.names")
    if isinstance(names, DictConfig):  # e.g. L(register_coco_file)(json_file=..., like=...): registers, gives the name
        names = instantiate(names)
    check_loss_weights([names] if isinstance(names, str) else list(names or []), "dataloader.train.dataset.names")
