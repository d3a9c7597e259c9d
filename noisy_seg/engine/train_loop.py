"""LazyConfig training and evaluation, as detectron2's tools/lazyconfig_train_net.py does it.

Differences: CPU fallback when no GPU is present, DDP on CPU, validated inputs, and for stage-wise
training `train.stop_iter` (stop early on a schedule that spans `train.max_iter`) and
`train.resume_from` (resume the full training state from another run's checkpoint).
"""

from __future__ import annotations

import logging
import os
import secrets

import torch

from detectron2.config import instantiate
from detectron2.engine import AMPTrainer, SimpleTrainer, default_writers, hooks
from detectron2.evaluation import inference_on_dataset, print_csv_format
from detectron2.solver import LRMultiplier
from detectron2.utils import comm

from ..data.checks import check_datasets_available
from ..modeling.memorization import set_memorization_log_period
from ..utils.errors import UserInputError
from .checkpoint import UNREADABLE, ResumablePeriodicCheckpointer, SafeCheckpointer
from .ddp import create_ddp_model
from .noise_monitor import NoiseMonitor
from .run_info import describe_schedule, loss_owner, loss_schedule, plain, warn_if_loss_never_active, write_run_info

logger = logging.getLogger("noisy_seg")


def resolve_seed(cfg) -> int:
    """`train.seed`, drawn now (and written back into the config) when it is negative, so the run can record
    it and every process of a multi-process run can be given the same one."""
    seed = cfg.train.get("seed", -1)
    if seed is None or seed < 0:
        seed = secrets.randbelow(2**31)
        cfg.train.seed = seed
    return int(seed)


def resolve_device(cfg) -> str:
    """`train.device`, moved to CPU when CUDA was asked for but no GPU is present."""
    device = cfg.train.get("device", "cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        logger.info("No GPU found: training and evaluating on CPU.")
        device = "cpu"
    cfg.train.device = device
    return device


def dataset_names(loader_cfg) -> list[str]:
    """The loader's dataset names. An entry may be a LazyCall that registers a file and returns its name
    (register_coco_file, register_pseudo_label_dataset): instantiating it registers (idempotently) and names it."""
    names = instantiate(loader_cfg.dataset.names)
    return [names] if isinstance(names, str) else list(names)


def do_test(cfg, model):
    """Evaluate `model` on `cfg.dataloader.test` with `cfg.dataloader.evaluator`; returns the results dict."""
    if "evaluator" not in cfg.dataloader:
        return {}
    check_datasets_available(dataset_names(cfg.dataloader.test))
    results = inference_on_dataset(model, instantiate(cfg.dataloader.test), instantiate(cfg.dataloader.evaluator))
    if comm.is_main_process() and results:
        print_csv_format(results)
    return results


def load_for_eval(cfg, resume: bool):
    """The model of `cfg` with `train.init_checkpoint` (or, with `resume`, the run's last checkpoint), loaded
    strictly: weights that do not fit the model, or no weights at all, are an error."""
    model = instantiate(cfg.model)
    model.to(resolve_device(cfg))
    model = create_ddp_model(model)
    checkpointer = _checkpointer(cfg, model)
    if resume and checkpointer.has_checkpoint():
        checkpointer.load_strict(checkpointer.get_checkpoint_file())
    elif cfg.train.init_checkpoint:
        checkpointer.load_strict(cfg.train.init_checkpoint)
    else:
        raise UserInputError(
            "--eval-only needs weights: pass train.init_checkpoint=<path to a model_final.pth>, or --resume with "
            f"train.output_dir set to a run folder that has checkpoints ({cfg.train.output_dir} has none)"
        )
    return model


def _checkpointer(cfg, model, **checkpointables) -> SafeCheckpointer:
    return SafeCheckpointer(
        model,
        cfg.train.output_dir,
        allow_pickle=bool(cfg.train.get("allow_pickle_checkpoints", False)),
        **checkpointables,
    )


def do_train(cfg, resume: bool = False):
    """Train `cfg.model` with hooks for LR schedule, checkpoints, evaluation and metric writers."""
    device = resolve_device(cfg)
    check_datasets_available(dataset_names(cfg.dataloader.train))
    model = instantiate(cfg.model)
    model.to(device)
    logger.info("Model:\n%s", model)

    cfg.optimizer.params.model = model
    optim = instantiate(cfg.optimizer)
    train_loader = instantiate(cfg.dataloader.train)

    model = create_ddp_model(model, **cfg.train.ddp)
    trainer_cls = AMPTrainer if cfg.train.amp.enabled else SimpleTrainer
    noise_monitor = NoiseMonitor(cfg.train.log_period)  # noise/realized_rate, written with the metric writers
    trainer = trainer_cls(model, noise_monitor.observe(train_loader), optim)
    checkpointer = _checkpointer(cfg, model, trainer=trainer)
    trainer.register_hooks(
        [
            hooks.IterationTimer(),
            noise_monitor,
            # the schedule spans train.max_iter even when this run stops at train.stop_iter
            hooks.LRScheduler(scheduler=LRMultiplier(optim, instantiate(cfg.lr_multiplier), cfg.train.max_iter)),
            ResumablePeriodicCheckpointer(checkpointer, **cfg.train.checkpointer) if comm.is_main_process() else None,
            hooks.EvalHook(cfg.train.eval_period, lambda: do_test(cfg, model)),
            hooks.PeriodicWriter(default_writers(cfg.train.output_dir, cfg.train.max_iter), period=cfg.train.log_period)
            if comm.is_main_process()
            else None,
        ]
    )

    start_iter = _restore(cfg, checkpointer, trainer, resume)
    stop = stop_iter(cfg)
    schedule = loss_schedule(model, start_iter, stop)
    warn_if_loss_never_active(schedule)
    if comm.is_main_process():
        write_run_info(
            cfg.train.output_dir,
            {
                "seed": cfg.train.get("seed", None),
                "max_iter": cfg.train.max_iter,
                "start_iter": start_iter,
                "stop_iter": stop,
                "loss_schedule": schedule,  # the box classifier's or the semantic head's configurable loss
                "box_loss": describe_schedule(schedule),
                "noise": plain(cfg.dataloader.train.get("mapper", {}).get("noise", None)),
            },
        )
    logger.info("%s loss of this run: %s", loss_owner(model), describe_schedule(schedule))
    set_memorization_log_period(model, cfg.train.log_period, stop)  # in the rows the PeriodicWriter above writes
    trainer.train(start_iter, stop)
    return trainer


def stop_iter(cfg) -> int:
    """Where this run stops: `train.stop_iter` if set (stage 1 of a stage-wise schedule, checked to lie in
    (0, max_iter] with the config), else max_iter."""
    return cfg.train.get("stop_iter", None) or cfg.train.max_iter


def _restore(cfg, checkpointer, trainer, resume: bool) -> int:
    """Where training starts: the last readable checkpoint of this run (--resume), else a full training state
    from `train.resume_from` (stage-wise training), else iteration 0 with `train.init_checkpoint` weights."""
    if resume and checkpointer.has_any_checkpoint():
        checkpointer.resume_newest_readable()
        return trainer.iter + 1
    resume_from = cfg.train.get("resume_from", "")
    if resume_from:
        if not os.path.isfile(resume_from):
            raise UserInputError(
                f"train.resume_from={resume_from} does not exist: train the previous stage first "
                "(see projects/NoisyClassLabels/README.md) or point it at its model_final.pth."
            )
        _load_or_fail(checkpointer, resume_from, "train.resume_from")  # model, optimizer, scheduler, iteration
        return trainer.iter + 1
    init = cfg.train.init_checkpoint
    if init and "://" not in init and not os.path.isfile(init):
        raise UserInputError(
            f'train.init_checkpoint={init} does not exist; pass an existing file, or "" to train from scratch'
        )
    if init:
        _load_or_fail(checkpointer, init, "train.init_checkpoint", checkpointables=[])
    return 0


def _load_or_fail(checkpointer, path: str, key: str, **kwargs) -> dict:
    try:
        return checkpointer.load(path, **kwargs)
    except UserInputError:
        raise
    except UNREADABLE as err:
        raise UserInputError(
            f"{key}={path} cannot be read ({str(err).splitlines()[0]}); is it a complete checkpoint?"
        ) from None
