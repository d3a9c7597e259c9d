# Yang et al.'s sub-task split carried to pixels, stage-wise in one run: CE until half of the schedule, then CE
# on pixels labelled or predicted as background (toy: road, train id 0, the one class that is not an object)
# and RCE on pixels labelled and predicted as objects. Ignored pixels get nothing.
from noisy_seg.config import fraction_of_max_iter

from .semantic_R18_FPN_ce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.sem_seg_head.loss = "combination"
model.sem_seg_head.loss_kwargs = dict(bg_index=[0])
model.sem_seg_head.loss_switch_iter = fraction_of_max_iter(0.5)  # follows train.max_iter overrides
train.output_dir = "output/NoisySemanticLabels/toy/combination_switch"
