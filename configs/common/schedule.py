# LR multipliers (fvcore schedulers wrapped in detectron2's warmup). Detectron2's "1x" etc. live in
# the model zoo's common/coco_schedule.py; `step_schedule` is the same shape for any length.
from fvcore.common.param_scheduler import MultiStepParamScheduler

from detectron2 import model_zoo
from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler

_coco = model_zoo.get_config("common/coco_schedule.py")
lr_multiplier_1x = _coco.lr_multiplier_1x
lr_multiplier_3x = _coco.lr_multiplier_3x


def step_schedule(max_iter, steps, warmup_iters, warmup_factor=0.001):
    """x0.1 at each of `steps` (iterations), linear warmup over `warmup_iters`. Scale-invariant: an
    override of train.max_iter stretches the whole schedule."""
    return L(WarmupParamScheduler)(
        scheduler=L(MultiStepParamScheduler)(
            values=[0.1**i for i in range(len(steps) + 1)],
            milestones=list(steps),
            num_updates=max_iter,
        ),
        warmup_length=warmup_iters / max_iter,
        warmup_method="linear",
        warmup_factor=warmup_factor,
    )
