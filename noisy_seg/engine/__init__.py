from .. import config  # noqa: F401  (registers the fraction_of_max_iter resolver configs may use)
from .config_checks import check_annotation_weights, check_config, check_image_tags
from .config_files import load_lazy_config, resolve_config_file
from .ddp import create_ddp_model
from .overrides import apply_overrides, check_override_key
from .train_loop import do_test, do_train, load_for_eval, resolve_device, resolve_seed
from .tool_dataset import add_dataset_arguments, dataset_of_args, resolve_tool_dataset
from .yacs_config import check_yacs_datasets, is_yacs_config, load_yacs_config
from .yacs_trainer import NoisyTrainer, load_yacs_model_for_eval

__all__ = [
    "NoisyTrainer",
    "add_dataset_arguments",
    "check_annotation_weights",
    "check_config",
    "check_image_tags",
    "create_ddp_model",
    "dataset_of_args",
    "apply_overrides",
    "check_override_key",
    "check_yacs_datasets",
    "do_test",
    "do_train",
    "is_yacs_config",
    "load_for_eval",
    "load_lazy_config",
    "load_yacs_config",
    "load_yacs_model_for_eval",
    "resolve_config_file",
    "resolve_device",
    "resolve_seed",
    "resolve_tool_dataset",
]
