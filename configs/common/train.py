# Training options read by tools/train_net.py: detectron2's defaults plus `train.device`, which
# train_net moves to "cpu" when no GPU is present.
from detectron2 import model_zoo

train = model_zoo.get_config("common/train.py").train
