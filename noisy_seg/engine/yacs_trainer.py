"""detectron2's DefaultTrainer for yacs configs, with what the LazyConfig path of tools/train_net.py adds: the noisy
train mapper of the task, evaluators by the dataset's evaluator_type, the label-noise scalars (noise/realized_rate,
noise/class_flip_rate: `NoiseMonitor`), run_info.json, one-line errors for missing datasets, AdamW
(SOLVER.OPTIMIZER), and the LazyConfig path's `SafeCheckpointer` (a `.pkl` MODEL.WEIGHTS or last checkpoint is
refused unless MODEL.ALLOW_PICKLE_CHECKPOINTS; atomic saves; --eval-only loads strictly). Everything else (schedule,
writers, --resume) is the stock trainer's.

    cfg = load_yacs_config("configs/toy/yacs/mask_rcnn_R18_FPN_ce.yaml", ["INPUT.LABEL_NOISE", "sym40"])
    trainer = NoisyTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
"""

from __future__ import annotations

import logging
import os

import torch

from detectron2.data import MetadataCatalog, build_detection_test_loader, build_detection_train_loader
from detectron2.engine import DefaultTrainer
from detectron2.evaluation import COCOEvaluator, CityscapesSemSegEvaluator
from detectron2.solver import get_default_optimizer_params
from detectron2.solver.build import maybe_add_gradient_clipping
from detectron2.utils import comm

from ..data import check_datasets_available
from ..evaluation import CityscapesInstanceEvaluator, SemSegEvaluator, coco_fast_eval_available
from ..modeling.memorization import MEMORIZATION_LOG_PERIOD, set_memorization_log_period
from ..utils.errors import UserInputError
from .checkpoint import UNREADABLE, YACS_KEYS, SafeCheckpointer
from .noise_monitor import NoiseMonitor
from .run_info import describe_schedule, loss_owner, loss_schedule, warn_if_loss_never_active, write_run_info
from .yacs_config import train_mapper_class
from ..data.yacs_noise import label_noise_from_cfg

__all__ = ["NoisyTrainer", "load_yacs_model_for_eval"]

logger = logging.getLogger("noisy_seg")

# evaluator_type (dataset metadata) -> evaluator(dataset name, output folder), as detectron2's tools/train_net.py
EVALUATORS = {
    "coco": lambda name, folder: COCOEvaluator(name, output_dir=folder, use_fast_impl=coco_fast_eval_available()),
    "sem_seg": lambda name, folder: SemSegEvaluator(name, output_dir=folder),
    "cityscapes_instance": lambda name, folder: CityscapesInstanceEvaluator(name),
    "cityscapes_sem_seg": lambda name, folder: CityscapesSemSegEvaluator(name),
}


class NoisyTrainer(DefaultTrainer):
    """DefaultTrainer with the noisy train mapper, evaluators, the noise monitor hook, run_info.json, AdamW and a
    SafeCheckpointer."""

    def __init__(self, cfg):
        self._allow_pickle = cfg.MODEL.ALLOW_PICKLE_CHECKPOINTS  # read by the checkpointer setter, in super().__init__
        super().__init__(cfg)

    @property
    def checkpointer(self) -> SafeCheckpointer:
        return self._safe_checkpointer

    @checkpointer.setter
    def checkpointer(self, stock) -> None:
        # DefaultTrainer.__init__ assigns a plain DetectionCheckpointer (it unpickles a .pkl, running its code) before
        # build_hooks hands it to the periodic checkpointer: the same model, folder and checkpointables, made safe
        self._safe_checkpointer = SafeCheckpointer(
            stock.model,
            stock.save_dir,
            save_to_disk=stock.save_to_disk,
            allow_pickle=self._allow_pickle,
            keys=YACS_KEYS,
            **stock.checkpointables,
        )

    def resume_or_load(self, resume=True):
        """DefaultTrainer's; a missing or unreadable MODEL.WEIGHTS (or last checkpoint) is one UserInputError."""
        try:
            return super().resume_or_load(resume=resume)
        except UserInputError:
            raise
        except UNREADABLE as err:
            source = (
                self.checkpointer.get_checkpoint_file()
                if resume and self.checkpointer.has_checkpoint()
                else f"MODEL.WEIGHTS {self.cfg.MODEL.WEIGHTS}"
            )
            raise UserInputError(
                f"cannot load {source} ({_first_line(err)}); pass an existing, complete checkpoint (a model_final.pth)"
            ) from None

    @classmethod
    def build_train_loader(cls, cfg):
        check_datasets_available(cfg.DATASETS.TRAIN)
        return build_detection_train_loader(cfg, mapper=train_mapper_class(cfg)(cfg, is_train=True))

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        check_datasets_available([dataset_name])
        return build_detection_test_loader(cfg, dataset_name)

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        kind = MetadataCatalog.get(dataset_name).get("evaluator_type", None)
        if kind not in EVALUATORS:
            raise NotImplementedError(
                f"no evaluator for dataset {dataset_name!r} of evaluator_type {kind!r}; "
                f"NoisyTrainer knows {', '.join(EVALUATORS)}"
            )
        return EVALUATORS[kind](dataset_name, output_folder or os.path.join(cfg.OUTPUT_DIR, "inference"))

    @classmethod
    def build_optimizer(cls, cfg, model):
        if cfg.SOLVER.OPTIMIZER != "ADAMW":
            return super().build_optimizer(cfg, model)
        params = get_default_optimizer_params(
            model,
            base_lr=cfg.SOLVER.BASE_LR,
            weight_decay_norm=cfg.SOLVER.WEIGHT_DECAY_NORM,
            bias_lr_factor=cfg.SOLVER.BIAS_LR_FACTOR,
            weight_decay_bias=cfg.SOLVER.WEIGHT_DECAY_BIAS,
        )
        return maybe_add_gradient_clipping(cfg, torch.optim.AdamW)(
            params, lr=cfg.SOLVER.BASE_LR, weight_decay=cfg.SOLVER.WEIGHT_DECAY
        )

    def build_hooks(self):
        monitor = NoiseMonitor(MEMORIZATION_LOG_PERIOD)  # written with DefaultTrainer's writers (period 20)
        self._trainer.data_loader = monitor.observe(self._trainer.data_loader)
        hooks = super().build_hooks()
        hooks.insert(1, monitor)  # after the timer, before the writers (as the LazyConfig path)
        return hooks

    def train(self):
        schedule = loss_schedule(self.model, self.start_iter, self.max_iter)
        warn_if_loss_never_active(schedule)
        if comm.is_main_process():
            write_run_info(
                self.cfg.OUTPUT_DIR,
                {
                    "seed": self.cfg.SEED,
                    "max_iter": self.max_iter,
                    "start_iter": self.start_iter,
                    "stop_iter": self.max_iter,
                    "loss_schedule": schedule,
                    "box_loss": describe_schedule(schedule),
                    "noise": label_noise_from_cfg(self.cfg),
                },
            )
        logger.info("%s loss of this run: %s", loss_owner(self.model), describe_schedule(schedule))
        # DefaultTrainer's PeriodicWriter writes every 20 iterations and at the last: the memorization rows too
        set_memorization_log_period(self.model, MEMORIZATION_LOG_PERIOD, self.max_iter)
        return super().train()


def load_yacs_model_for_eval(cfg, resume: bool):
    """The model of `cfg` with MODEL.WEIGHTS (or, with `resume`, the last checkpoint in OUTPUT_DIR), loaded strictly
    as the LazyConfig path's `load_for_eval`: weights that do not fit the model, a refused pickle, or no weights at
    all are an error."""
    model = NoisyTrainer.build_model(cfg)
    checkpointer = SafeCheckpointer(
        model, cfg.OUTPUT_DIR, allow_pickle=cfg.MODEL.ALLOW_PICKLE_CHECKPOINTS, keys=YACS_KEYS
    )
    if resume and checkpointer.has_checkpoint():
        checkpointer.load_strict(checkpointer.get_checkpoint_file())
    elif cfg.MODEL.WEIGHTS:
        checkpointer.load_strict(cfg.MODEL.WEIGHTS)
    else:
        raise UserInputError(
            "--eval-only needs weights: pass MODEL.WEIGHTS <a model_final.pth>, or --resume with "
            f"OUTPUT_DIR set to a run folder that has checkpoints ({cfg.OUTPUT_DIR} has none)"
        )
    return model


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__
