from .defaults import add_noisy_seg_config

__all__ = ["add_noisy_seg_config"]
