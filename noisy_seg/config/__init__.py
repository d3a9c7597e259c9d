from .defaults import add_noisy_seg_config
from .lazy import use_noisy_roi_heads
from .lr_schedules import one_cycle_schedule, poly_schedule
from .schedule import fraction_of_max_iter  # also registers its OmegaConf resolver

__all__ = ["add_noisy_seg_config", "fraction_of_max_iter", "one_cycle_schedule", "poly_schedule", "use_noisy_roi_heads"]
