# Small Mask R-CNN on the built-in toy-shapes data, plain cross entropy, fine-tuned from a backbone pretrained here
# (noisy_seg://backbones/R18_tiny_corpus.pth: tools/pretrain_backbone.py on a procedural corpus of 70 classes of
# shapes, glyphs and textures, not the toy data), as every detectron2 recipe starts from ImageNet weights: under 3
# minutes on 2 CPU cores (train + eval). 500 iters * 8 images/iter / 512 train images = ~7.8 epochs.
# From scratch (train.init_checkpoint="") the box classifier called every foreground RoI background for the first
# ~250-300 iterations and the model reached 16 mask AP; pretrained, it reaches ~50 (projects/NoisyClassLabels).
# positive_fraction 0.5: images hold 1-4 objects, so a quarter of 64 RoIs left the classifier calling ~30% of the
# foreground RoIs background at the end; half brings it under 20% at the same mask AP (one seed each).
# The narrow model (mask_rcnn_R18_FPN_tiny.py) makes an iteration ~3.5x cheaper than the 64-channel R18.
from noisy_seg.config import fraction_of_max_iter

from ..common.data.toy_shapes import dataloader
from ..common.models.mask_rcnn_R18_FPN_tiny import PRETRAINED_BACKBONE, model
from ..common.optim import AdamW as optimizer
from ..common.schedule import step_schedule
from ..common.train import train

NUM_CLASSES = 8
MAX_ITER = 500

model.roi_heads.num_classes = NUM_CLASSES
model.roi_heads.positive_fraction = 0.5
model.roi_heads.box_predictor.test_score_thresh = 0.05

dataloader.train.total_batch_size = 8
optimizer.lr = 1e-3
optimizer.weight_decay = 0.05
lr_multiplier = step_schedule(MAX_ITER, steps=(int(MAX_ITER * 0.95),), warmup_iters=100)

train.output_dir = "output/toy/mask_rcnn_R18_FPN_ce"
train.seed = 0  # seeded: the same command gives the same run, as far as the CPU kernels allow
train.init_checkpoint = PRETRAINED_BACKBONE  # "" trains from scratch
train.max_iter = MAX_ITER
train.eval_period = fraction_of_max_iter(1.0)  # at the end, also when train.max_iter is overridden
train.log_period = 20
train.checkpointer.period = 250
train.checkpointer.max_to_keep = 3
