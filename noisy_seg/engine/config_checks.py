"""Checks of a LazyConfig before anything is built or launched: one UserInputError line for values that would
otherwise fail deep inside training (after the model is built, in a worker process, or silently)."""

from __future__ import annotations

import logging
import numbers

from omegaconf import DictConfig, ListConfig, OmegaConf

from detectron2.config import instantiate
from detectron2.config.instantiate import locate
from detectron2.data import DatasetCatalog, MetadataCatalog

from ..utils.errors import UserInputError

logger = logging.getLogger("noisy_seg")

__all__ = [
    "check_annotation_weights",
    "check_config",
    "dataset_names",
    "check_image_tags",
    "check_weights_name",
    "check_yacs_mask_loss",
    "check_yacs_sem_seg_loss",
]

# key, minimum (None: the key may be None)
_INT_KEYS = (
    ("train.max_iter", 1, False),
    ("train.eval_period", 0, False),
    ("train.log_period", 1, False),
    ("train.checkpointer.period", 1, False),
    ("train.checkpointer.max_to_keep", 1, True),
    ("dataloader.train.total_batch_size", 1, False),
    ("dataloader.train.num_workers", 0, False),
    ("dataloader.test.num_workers", 0, True),
)


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
            extra = {
                key: _select(cfg, f"dataloader.{split}.mapper.{key}") for key in ("background_label", "ignore_label")
            }
        try:
            target.build_noise(
                OmegaConf.to_container(noise) if isinstance(noise, DictConfig) else noise, num_classes, **extra
            )
        except ValueError as err:
            raise UserInputError(
                f"{key}={OmegaConf.to_container(noise) if isinstance(noise, DictConfig) else noise!r}: {err}"
            ) from None
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
                f"{_num_classes_setting(cfg, split, num_classes)} but dataset '{name}' has {len(classes)} "
                f"{field.replace('_', ' ')}; set it to {len(classes)}"
            )


def _num_classes_setting(cfg, split: str, value) -> str:
    """ "key=value" of the mapper's class count: its own key, or the model's it refers to ("${model....}")."""
    mapper = _select(cfg, f"dataloader.{split}.mapper")
    raw = OmegaConf.to_container(mapper, resolve=False).get("num_classes") if isinstance(mapper, DictConfig) else None
    if isinstance(raw, str) and raw.startswith("${") and raw.endswith("}") and not raw.startswith("${."):
        return f"{raw[2:-1]}={value} (the train mapper's class count too)"
    return f"dataloader.{split}.mapper.num_classes={value}"


def check_config(cfg) -> None:
    """Raise UserInputError (one line) for a config that cannot train as given."""
    _check_ints(cfg)
    stop = _select(cfg, "train.stop_iter")
    max_iter = _select(cfg, "train.max_iter")
    if stop is not None and not (isinstance(stop, int) and 0 < stop <= max_iter):
        raise UserInputError(f"train.stop_iter={stop} must be in (0, train.max_iter={max_iter}]")
    check_weights_name(_select(cfg, "train.init_checkpoint"))
    _check_noise(cfg)
    _check_sem_seg_loss(cfg)
    _check_mask_loss(cfg)


def check_weights_name(weights) -> None:
    """Shipped weights named `noisy_seg://...` (train.init_checkpoint, yacs MODEL.WEIGHTS) exist and are intact:
    one line before anything runs, not a traceback once the model is built."""
    from ..model_zoo.weights import PREFIX, pretrained_weights_file

    if isinstance(weights, str) and weights.startswith(PREFIX):
        pretrained_weights_file(weights[len(PREFIX) :])


def _check_sem_seg_loss(cfg) -> None:
    """model.sem_seg_head's options (a noisy semantic head's loss, loss_kwargs, loss_switch_iter, predictor_init_std),
    checked as the head checks them: a bad one is one line here, not a traceback once the run folder exists."""
    head = _select(cfg, "model.sem_seg_head")
    if not _is_noisy_sem_seg_head(_target(head)):
        return
    options = {
        key: _select(cfg, f"model.sem_seg_head.{key}")
        for key in ("loss", "loss_kwargs", "loss_switch_iter", "ignore_value", "num_classes", "predictor_init_std")
    }
    _check_head_options(
        "model.sem_seg_head",
        **{
            key: OmegaConf.to_container(value) if isinstance(value, (DictConfig, ListConfig)) else value
            for key, value in options.items()
        },
    )


def check_yacs_sem_seg_loss(cfg) -> None:
    """The same check of a yacs config (MODEL.SEM_SEG_HEAD.LOSS, LOSS_KWARGS, LOSS_SWITCH_ITER read as the head reads
    them), for a noisy semantic head (MODEL.SEM_SEG_HEAD.NAME); called when the yacs config is loaded."""
    from detectron2.modeling import SEM_SEG_HEADS_REGISTRY

    from ..modeling.sem_seg_heads import _loss_options

    head = cfg.MODEL.SEM_SEG_HEAD
    if head.NAME in SEM_SEG_HEADS_REGISTRY and _is_noisy_sem_seg_head(SEM_SEG_HEADS_REGISTRY.get(head.NAME)):
        _check_head_options(
            "MODEL.SEM_SEG_HEAD", **_loss_options(cfg), ignore_value=head.IGNORE_VALUE, num_classes=head.NUM_CLASSES
        )


def _check_mask_loss(cfg) -> None:
    """model.roi_heads.mask_head's loss options, as the noisy mask head checks them (the band's bound from the mask
    pooler's grid)."""
    from ..modeling import NoisyMaskRCNNConvUpsampleHead

    head = _select(cfg, "model.roi_heads.mask_head")
    target = _target(head)
    if not (isinstance(target, type) and issubclass(target, NoisyMaskRCNNConvUpsampleHead)):
        return
    kwargs = _select(cfg, "model.roi_heads.mask_head.mask_loss_kwargs")
    pooler = _select(cfg, "model.roi_heads.mask_pooler.output_size")
    _mask_loss_problem(
        "model.roi_heads.mask_head",
        _select(cfg, "model.roi_heads.mask_head.mask_loss") or "bce",
        OmegaConf.to_container(kwargs) if isinstance(kwargs, DictConfig) else kwargs,
        2 * pooler if isinstance(pooler, int) else None,
    )


def check_yacs_mask_loss(cfg) -> None:
    """MODEL.ROI_MASK_HEAD.LOSS / LOSS_KWARGS / LOSS_SWITCH_ITER of a yacs config, when the yacs config is loaded: a
    mask loss other than the stock one needs a mask head (MODEL.MASK_ON) that reads it (MODEL.ROI_MASK_HEAD.NAME a
    noisy mask head), and the loss and its options as the head checks them."""
    from detectron2.modeling.roi_heads import ROI_MASK_HEAD_REGISTRY

    from ..modeling import NoisyMaskRCNNConvUpsampleHead

    head = cfg.MODEL.ROI_MASK_HEAD
    loss, kwargs, switch = (
        head.get("LOSS", "bce"),
        dict(head.get("LOSS_KWARGS", {}) or {}),
        head.get("LOSS_SWITCH_ITER", 0),
    )
    if loss == "bce" and not kwargs and not switch:
        return
    if not cfg.MODEL.MASK_ON:
        raise UserInputError(f"MODEL.ROI_MASK_HEAD.LOSS {loss!r} needs a mask head: MODEL.MASK_ON is False")
    registered = ROI_MASK_HEAD_REGISTRY.get(head.NAME) if head.NAME in ROI_MASK_HEAD_REGISTRY else None
    if not (isinstance(registered, type) and issubclass(registered, NoisyMaskRCNNConvUpsampleHead)):
        raise UserInputError(
            f"MODEL.ROI_MASK_HEAD.LOSS is read by the noisy mask heads, not by {head.NAME!r}: set "
            f"MODEL.ROI_MASK_HEAD.NAME to NoisyMaskRCNNConvUpsampleHead (or NoiseTolerantMaskHead)"
        )
    if isinstance(switch, bool) or not isinstance(switch, int) or switch < 0:
        raise UserInputError(f"MODEL.ROI_MASK_HEAD.LOSS_SWITCH_ITER must be an int >= 0, got {switch!r}")
    _mask_loss_problem("MODEL.ROI_MASK_HEAD", loss, kwargs, 2 * head.POOLER_RESOLUTION)


def _mask_loss_problem(head_key: str, loss, kwargs, mask_side) -> None:
    from ..modeling import check_mask_loss

    try:
        check_mask_loss(loss, kwargs, mask_side)
    except ValueError as err:
        raise UserInputError(f"{head_key}: {err}") from None


def _is_noisy_sem_seg_head(target) -> bool:
    from ..modeling import NoisyDeepLabV3PlusHead, NoisySemSegFPNHead

    return isinstance(target, type) and issubclass(target, (NoisySemSegFPNHead, NoisyDeepLabV3PlusHead))


def _check_head_options(
    head_key: str, *, loss, loss_kwargs, loss_switch_iter, ignore_value, num_classes, predictor_init_std=None
) -> None:
    from ..modeling import SemSegLoss
    from ..modeling.sem_seg_heads import check_predictor_init_std

    if predictor_init_std is not None:
        try:
            check_predictor_init_std(predictor_init_std)
        except ValueError as err:
            message = str(err).replace("predictor_init_std", "PREDICTOR_INIT_STD", 1) if head_key.isupper() else err
            raise UserInputError(f"{head_key}.{message}") from None
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise UserInputError(
            f"{head_key}.{'NUM_CLASSES' if head_key.isupper() else 'num_classes'} must be an int "
            f">= 1, got {num_classes!r}"
        )
    try:  # built once and dropped: the loss terms are small (region_aware's largest: a K x K confusion buffer)
        SemSegLoss(
            "ce" if loss is None else loss,
            loss_kwargs,
            0 if loss_switch_iter is None else loss_switch_iter,
            ignore_value=-1 if ignore_value is None else ignore_value,  # detectron2's heads' default
            num_classes=num_classes,
        )
    except ValueError as err:
        raise UserInputError(f"{head_key}: {err}") from None


def check_image_tags(cfg) -> None:
    """The train mapper's tag_file (NoisySemSegDatasetMapper), read as the mapper reads it, with its keys checked
    against the training records: a key that is neither an image id nor an image file stem of the training set is
    one line (its tags would go unused). Run before training starts, not with every config load: it loads the
    training records."""
    from ..data.image_tags import check_tag_keys, read_tag_file
    from ..data.mappers import NoisySemSegDatasetMapper

    target = _target(_select(cfg, "dataloader.train.mapper"))
    tag_file = _select(cfg, "dataloader.train.mapper.tag_file")
    if tag_file is None or not (isinstance(target, type) and issubclass(target, NoisySemSegDatasetMapper)):
        return
    num_classes = _select(cfg, "dataloader.train.mapper.num_classes")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise UserInputError(
            f"dataloader.train.mapper.tag_file needs dataloader.train.mapper.num_classes (the number "
            f"of classes), got {num_classes!r}"
        )
    class_names = _select(cfg, "dataloader.train.mapper.class_names")
    try:
        tags_by_key = read_tag_file(tag_file, num_classes, None if class_names is None else list(class_names))
        records = [record for name in _registered(dataset_names(cfg, "train")) for record in DatasetCatalog.get(name)]
        untagged = check_tag_keys(tags_by_key, records, tag_file)
    except ValueError as err:
        raise UserInputError(f"dataloader.train.mapper.{err}") from None
    if untagged:  # the documented rule (noisy_seg.data.image_tags), said rather than applied without a word
        logger.warning(
            "dataloader.train.mapper.tag_file %s tags %d of the %d training images; the other %d take the "
            "classes of their label maps as their tags (exact for fully labelled images)",
            tag_file,
            len(records) - untagged,
            len(records),
            untagged,
        )


def dataset_names(cfg, split: str) -> list:
    """The `split` dataset names of a LazyConfig; a LazyCall (e.g. L(register_coco_file)(...)) is instantiated:
    it registers and gives the name."""
    names = _select(cfg, f"dataloader.{split}.dataset.names")
    if isinstance(names, DictConfig):
        names = instantiate(names)
    return [names] if isinstance(names, str) else list(names or [])


def _registered(names) -> list:
    """The registered ones among `names`; the others are reported, with the data check, when the run starts."""
    return [name for name in names if name in DatasetCatalog.list()]


def check_annotation_weights(cfg) -> None:
    """With `annotation_loss_weights` on in a box predictor (a cascade's: `box_predictors.N`), the training records
    must carry "loss_weight" (`noisy_seg.data.datasets.coco_files.check_loss_weights`: loads them once). Run before
    training starts, not with every config load."""
    from ..data.datasets.coco_files import check_loss_weights

    predictors = [
        _select(cfg, "model.roi_heads.box_predictor"),
        *(_select(cfg, "model.roi_heads.box_predictors") or []),
    ]
    if not any(isinstance(p, DictConfig) and p.get("annotation_loss_weights", False) for p in predictors):
        return
    names = _select(cfg, "dataloader.train.dataset.names")
    if isinstance(names, DictConfig):  # e.g. L(register_coco_file)(json_file=..., like=...): registers, gives the name
        names = instantiate(names)
    check_loss_weights([names] if isinstance(names, str) else list(names or []), "dataloader.train.dataset.names")
