from detectron2 import model_zoo

_optim = model_zoo.get_config("common/optim.py")
SGD = _optim.SGD
AdamW = _optim.AdamW
