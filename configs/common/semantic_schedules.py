# LR multipliers for semantic segmentation: the carpartssegment seed's poly and one-cycle schedules
# (noisy_seg/config/lr_schedules.py), wrapped in detectron2's warmup like the model zoo's common/coco_schedule.py.
# Like every fvcore scheduler they are scale-invariant: they follow train.max_iter. A config picks one with
#     from ..common.semantic_schedules import lr_multiplier_poly as lr_multiplier
# and the command line tunes it, e.g. lr_multiplier.scheduler.power=1.0 lr_multiplier.warmup_length=0.01
#   warmup_length  fraction of training spent warming up; 0 (none) by default, as in the seed, where warmup is
#                  optional and off unless asked for
#   warmup_factor  warmup starts at warmup_factor x the schedule's first value and rises linearly to the
#                  schedule's value where warmup ends (detectron2's "linear" method, so no jump)
from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler

from noisy_seg.config import one_cycle_schedule, poly_schedule

lr_multiplier_poly = L(WarmupParamScheduler)(
    scheduler=L(poly_schedule)(power=0.9, floor=0.02),
    warmup_length=0.0,
    warmup_method="linear",
    warmup_factor=0.001,
)

# The one-cycle schedule already starts low (1 / div_factor), so it has no warmup of its own by default either.
lr_multiplier_one_cycle = L(WarmupParamScheduler)(
    scheduler=L(one_cycle_schedule)(peak_at=0.3, div_factor=25.0),
    warmup_length=0.0,
    warmup_method="linear",
    warmup_factor=0.001,
)
