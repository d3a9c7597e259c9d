# The robust-loss alternative to correcting labels: NoisyClassLabels' combination_switch (Yang et al.'s combination
# loss after CE for the first half) trained on the same noisy copy as instance_stage1_ce.py.
from detectron2.config import LazyConfig

from .instance_stage1_ce import dataloader  # noqa: F401  (the noisy copy)

lr_multiplier, model, optimizer, train = LazyConfig.load_rel(
    "../../../NoisyClassLabels/configs/toy/combination_switch.py", ("lr_multiplier", "model", "optimizer", "train")
)
train.output_dir = "output/PseudoLabels/toy/instance/combination"
