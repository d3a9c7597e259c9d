"""detectron2 data glue: dataset registration (on import), noise mappers and input checks."""

from .datasets import builtin  # noqa: F401  (registers the toy-shapes datasets)
from .checks import check_datasets_available
from .datasets.coco_files import register_coco_file, register_coco_view
from .datasets.manifest import register_pseudo_label_dataset
from .datasets.noisy_label_maps import register_noisy_label_maps
from .datasets.splits import register_strong_weak_split
from ..utils.registration import add_register_argument, register_from_args, register_user_datasets
from .mappers import NoisyDatasetMapper, NoisySemSegDatasetMapper

__all__ = [
    "add_register_argument",
    "check_datasets_available",
    "NoisyDatasetMapper",
    "NoisySemSegDatasetMapper",
    "register_coco_file",
    "register_coco_view",
    "register_from_args",
    "register_noisy_label_maps",
    "register_pseudo_label_dataset",
    "register_strong_weak_split",
    "register_user_datasets",
]
