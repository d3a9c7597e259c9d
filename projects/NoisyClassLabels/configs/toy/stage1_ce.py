# Stage 1 of Yang et al.'s stage-wise training: plain CE for the first half of the schedule.
# The LR schedule spans the full train.max_iter; training stops at train.stop_iter.
from noisy_seg.config import fraction_of_max_iter

from .mask_rcnn_R18_FPN_ce import dataloader, lr_multiplier, model, optimizer, train

train.stop_iter = fraction_of_max_iter(0.5)  # follows train.max_iter overrides
train.output_dir = "output/NoisyClassLabels/toy/stage1_ce"
