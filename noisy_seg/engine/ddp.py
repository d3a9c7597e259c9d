"""Several processes: DDP on a CPU too, and the launch flags of the tools that run a model over a dataset."""

import logging
import os
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from detectron2.engine import create_ddp_model as _d2_create_ddp_model
from detectron2.engine import launch
from detectron2.utils import comm

from ..utils.errors import UserInputError


def create_ddp_model(model, *, fp16_compression=False, **kwargs):
    """detectron2's `create_ddp_model`, also on CPU: there DDP must not get `device_ids`."""
    if comm.get_world_size() > 1 and not torch.cuda.is_available():
        kwargs.pop("device_ids", None)
        return DistributedDataParallel(model, **kwargs)
    return _d2_create_ddp_model(model, fp16_compression=fp16_compression, **kwargs)


def add_launch_arguments(parser) -> None:
    """detectron2's launch flags, as tools/train_net.py takes them: several processes (one per GPU; on a machine
    without GPUs, gloo processes on the CPU), each taking its share of the work."""
    parser.add_argument("--num-gpus", type=int, default=1, help="processes per machine, one per GPU (default 1)")
    parser.add_argument("--num-machines", type=int, default=1, help="machines taking part (default 1)")
    parser.add_argument("--machine-rank", type=int, default=0, help="this machine's rank, 0 .. --num-machines - 1")
    parser.add_argument(
        "--dist-url", help="where the processes meet, e.g. tcp://host:port (default: a free local port, one machine)"
    )


def check_launch_arguments(args) -> None:
    """The launch flags make sense together (one error line each, before any process starts)."""
    if args.num_gpus < 1 or args.num_machines < 1:
        raise UserInputError(
            f"--num-gpus and --num-machines must be at least 1, got {args.num_gpus} and {args.num_machines}"
        )
    if not 0 <= args.machine_rank < args.num_machines:
        raise UserInputError(f"--machine-rank must lie in [0, {args.num_machines}), got {args.machine_rank}")
    if args.num_machines > 1 and not args.dist_url:
        raise UserInputError("several machines need --dist-url (e.g. tcp://<the first machine>:<a free port>)")


def launch_from_args(function, args, *function_args) -> None:
    """`launch_processes` of `function(*function_args)` with the tool's launch flags: in this process for one
    process in all, else one process per GPU of this machine (gloo on a CPU machine)."""
    launch_processes(
        function,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url or "auto",
        args=function_args,
    )


def launch_processes(function, num_gpus: int, *, num_machines=1, machine_rank=0, dist_url="auto", args=()) -> None:
    """detectron2's `launch` of `function(*args)`, the processes leaving their process group together at the end:
    detectron2 leaves it to the interpreter's exit, where a gloo process whose peer has already gone can abort
    ("terminate called without an active exception")."""
    launch(
        _part_together,
        num_gpus,
        num_machines=num_machines,
        machine_rank=machine_rank,
        dist_url=dist_url,
        args=(function, *args),
    )


def _part_together(function, *args) -> None:
    function(*args)
    if dist.is_available() and dist.is_initialized():
        comm.synchronize()
        spawned = dist.get_world_size() > 1  # launch runs a world of one in the calling process itself
        dist.destroy_process_group()
        if spawned:
            # gloo's C++ threads can still abort in the interpreter's teardown ("terminate called without an
            # active exception", seen under load even after the group is destroyed): a spawned process whose work is
            # done and flushed skips it. A failure raised above still reaches torch's spawn as a traceback.
            logging.shutdown()  # log files flushed and closed
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
