from .defaults import add_noisy_seg_config
from .lazy import use_noisy_roi_heads

__all__ = ["add_noisy_seg_config", "use_noisy_roi_heads"]
