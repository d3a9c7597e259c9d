# The carpartssegment seed's region-aware loss: confusion-corrected MAE-like term + 0.7 * CE, weight 1 on the
# foreground and 0.4 on the background (road, train id 0); the confusion EMA starts at the identity.
from .semantic_R18_FPN_ce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.sem_seg_head.loss = "region_aware"
model.sem_seg_head.loss_kwargs = dict(background_index=0)
train.output_dir = "output/NoisySemanticLabels/toy/region_aware"
