"""noisy_seg's LazyConfig files, shipped inside the package: `get_config("toy/mask_rcnn_R18_FPN_ce.py")`."""
from .model_zoo import ZOO_ROOT, config_names, get_config, get_config_file

__all__ = ["ZOO_ROOT", "config_names", "get_config", "get_config_file"]
