#!/usr/bin/env python
r"""Train or evaluate a model from a LazyConfig file (detectron2's lazyconfig_train_net) or a yacs config
(detectron2's tools/train_net.py, with noisy_seg.engine.NoisyTrainer), for noisy_seg.

LazyConfig (.py, or a run's saved config.yaml), key=value overrides:
    python tools/train_net.py --config-file configs/toy/mask_rcnn_R18_FPN_ce.py
    python tools/train_net.py --config-file configs/toy/mask_rcnn_R18_FPN_ce.py \
        train.max_iter=3 train.output_dir=output/smoke dataloader.train.mapper.noise=sym40
    python tools/train_net.py --config-file CFG.py --eval-only train.init_checkpoint=output/.../model_final.pth
yacs (.yaml with MODEL/INPUT/SOLVER/... keys or _BASE_; add_noisy_seg_config applied), KEY VALUE overrides:
    python tools/train_net.py --config-file configs/toy/yacs/mask_rcnn_R18_FPN_ce.yaml \
        SOLVER.MAX_ITER 3 OUTPUT_DIR output/smoke INPUT.LABEL_NOISE sym40
    python tools/train_net.py --config-file CFG.yaml --eval-only MODEL.WEIGHTS output/.../model_final.pth
Both:
    python tools/train_net.py --config-file CFG --resume          # continue from the last checkpoint
    python tools/train_net.py --config-file CFG --num-gpus 8      # DDP via detectron2's launch

Runs on CPU when no GPU is present. Writes checkpoints, metrics.json, run_info.json and tensorboard events to
`train.output_dir` (yacs: OUTPUT_DIR). A config problem (unknown key, mistyped value, bad noise name) is one
`error:` line and exit status 2.
"""

import sys

from noisy_seg.utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported

try:
    from detectron2.config import CfgNode
    from detectron2.engine import default_argument_parser, default_setup
    from detectron2.evaluation import verify_results
    from detectron2.utils import comm
    from detectron2.utils.logger import setup_logger
except ImportError as e:
    sys.exit(
        f"error: detectron2 is not importable ({e}). Install it with `make install` "
        "or `python tools/install_detectron2.py`."
    )

from noisy_seg.data import add_register_argument, register_from_args
from noisy_seg.engine.ddp import launch_processes
from noisy_seg.engine import (
    NoisyTrainer,
    check_annotation_weights,
    check_config,
    check_image_tags,
    do_test,
    do_train,
    check_yacs_datasets,
    is_yacs_config,
    load_for_eval,
    load_lazy_config,
    load_yacs_config,
    load_yacs_model_for_eval,
    resolve_seed,
)
from noisy_seg.engine.config_files import resolve_config_file
from noisy_seg.utils.errors import UserInputError


def argument_parser():
    """detectron2's parser, with this script's examples (LazyConfig and yacs) as its --help epilog, and --register
    (one's own datasets, noisy_seg.data.register_user_datasets)."""
    parser = default_argument_parser(epilog=__doc__[__doc__.index("LazyConfig (") :])
    add_register_argument(parser)
    return parser


def load_config(config_file, opts):
    """The config file with the command-line overrides, checked: a yacs CfgNode for a yacs .yaml, else the
    LazyConfig; every problem is one UserInputError."""
    path = resolve_config_file(config_file)  # a path, or the name of a config shipped in the package
    if is_yacs_config(path):
        return load_yacs_config(path, opts)
    cfg = load_lazy_config(
        config_file,
        opts,
        required=("model", "train", "dataloader"),
        missing_hint=(
            ": tools/train_net.py runs LazyConfig files (configs/*.py, or a run's saved config.yaml) and yacs .yaml "
            "configs (top-level MODEL, INPUT, SOLVER, ... keys or _BASE_, e.g. configs/toy/yacs/)"
        ),
    )
    check_config(cfg)
    return cfg


def main_yacs(cfg, args):
    """detectron2's tools/train_net.py main, with NoisyTrainer."""
    default_setup(cfg, args)
    setup_logger(cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name="noisy_seg", enable_propagation=True)
    if args.eval_only:
        results = NoisyTrainer.test(cfg, load_yacs_model_for_eval(cfg, resume=args.resume))
        if comm.is_main_process():
            verify_results(cfg, results)  # TEST.EXPECTED_RESULTS, when given
        return results
    trainer = NoisyTrainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def main(args):
    register_from_args(args)  # in every process launch starts (once per process)
    args.config_file = resolve_config_file(args.config_file)  # default_setup logs the file: its path, also for a name
    cfg = load_config(args.config_file, args.opts)
    if isinstance(cfg, CfgNode):
        return main_yacs(cfg, args)
    if getattr(args, "drawn_seed", None) is not None:  # resolved once by cli() for all processes
        cfg.train.seed = args.drawn_seed
    resolve_seed(cfg)  # before default_setup, which seeds every RNG with train.seed + rank
    default_setup(cfg, args)
    # noisy_seg's own lines (label noise, loss schedule) to the console and log.txt, as detectron2's are
    setup_logger(cfg.train.output_dir, distributed_rank=comm.get_rank(), name="noisy_seg", enable_propagation=True)
    if args.eval_only:
        return do_test(cfg, load_for_eval(cfg, resume=args.resume))
    do_train(cfg, resume=args.resume)
    return None


def _main_with_clear_errors(args):
    try:
        return main(args)
    except UserInputError as e:
        if comm.is_main_process():
            print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def cli(argv=None):
    args = argument_parser().parse_args(argv)
    try:  # validate the config before spawning workers, so errors are one line
        register_from_args(args)
        cfg = load_config(args.config_file, args.opts)
        if isinstance(cfg, CfgNode):
            check_yacs_datasets(cfg, eval_only=args.eval_only)
        elif not args.eval_only:
            check_annotation_weights(cfg)
            check_image_tags(cfg)
    except UserInputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    # a negative seed is drawn once, here, so that every process gets the same one (passed as an argument, not as
    # an override: a config of its own may lack train.seed); yacs' SEED is detectron2's (drawn per process)
    args.drawn_seed = None if isinstance(cfg, CfgNode) else resolve_seed(cfg)
    launch_processes(  # detectron2's launch, the processes leaving their group together at the end
        _main_with_clear_errors,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )


if __name__ == "__main__":
    cli()
