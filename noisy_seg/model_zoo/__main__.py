"""`python -m noisy_seg.model_zoo`: the names `get_config` and `tools/train_net.py --config-file` accept."""

from .model_zoo import config_names

if __name__ == "__main__":
    print("\n".join(config_names()))
