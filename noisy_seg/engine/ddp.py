import torch
from torch.nn.parallel import DistributedDataParallel

from detectron2.engine import create_ddp_model as _d2_create_ddp_model
from detectron2.utils import comm


def create_ddp_model(model, *, fp16_compression=False, **kwargs):
    """detectron2's `create_ddp_model`, also on CPU: there DDP must not get `device_ids`."""
    if comm.get_world_size() > 1 and not torch.cuda.is_available():
        kwargs.pop("device_ids", None)
        return DistributedDataParallel(model, **kwargs)
    return _d2_create_ddp_model(model, fp16_compression=fp16_compression, **kwargs)
