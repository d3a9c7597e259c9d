"""noisy_seg's LazyConfig files, shipped inside the package: `get_config("toy/mask_rcnn_R18_FPN_ce.py")`; and its
pretrained weights by name, `noisy_seg://backbones/...` (`weights.py`: a PathManager handler, registered here)."""

from .model_zoo import ZOO_ROOT, config_names, get_config, get_config_file
from .weights import NoisySegHandler, pretrained_weights_file

__all__ = ["ZOO_ROOT", "NoisySegHandler", "config_names", "get_config", "get_config_file", "pretrained_weights_file"]
