# Small from-scratch Mask R-CNN on the built-in toy-shapes data, plain cross entropy: about 3 minutes on 2 CPU
# cores (train + eval). 500 iters * 8 images/iter / 512 train images = ~7.8 epochs.
# Why this recipe (measured with tools/run_grid.py, see projects/NoisyClassLabels/README.md): the narrow model
# (mask_rcnn_R18_FPN_tiny.py) makes an iteration ~3.5x cheaper than the 64-channel R18, so 8 images per
# iteration fit. From scratch the box classifier first predicts background for every foreground RoI and starts
# to recover only after ~250-300 iterations, at a different point on every seed: that was the run-to-run spread.
# Batch 8 and an LR step as late as 95% of the schedule (not 80%, which cut the LR while it was recovering)
# narrowed it most of what was tried.
from noisy_seg.config import fraction_of_max_iter

from ..common.data.toy_shapes import dataloader
from ..common.models.mask_rcnn_R18_FPN_tiny import model
from ..common.optim import AdamW as optimizer
from ..common.schedule import step_schedule
from ..common.train import train

NUM_CLASSES = 8
MAX_ITER = 500

model.roi_heads.num_classes = NUM_CLASSES
model.roi_heads.box_predictor.test_score_thresh = 0.05

dataloader.train.total_batch_size = 8
optimizer.lr = 1e-3
optimizer.weight_decay = 0.05
lr_multiplier = step_schedule(MAX_ITER, steps=(int(MAX_ITER * 0.95),), warmup_iters=100)

train.output_dir = "output/toy/mask_rcnn_R18_FPN_ce"
train.seed = 0  # seeded: the same command gives the same run, as far as the CPU kernels allow
train.init_checkpoint = ""  # from scratch: no weights can be downloaded here
train.max_iter = MAX_ITER
train.eval_period = fraction_of_max_iter(1.0)  # at the end, also when train.max_iter is overridden
train.log_period = 20
train.checkpointer.period = 250
train.checkpointer.max_to_keep = 3
