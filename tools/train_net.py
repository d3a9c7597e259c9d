#!/usr/bin/env python
"""Train or evaluate a model from a LazyConfig file (detectron2's lazyconfig_train_net, for noisy_seg).

    python tools/train_net.py --config-file configs/toy/mask_rcnn_R18_FPN_ce.py
    python tools/train_net.py --config-file configs/toy/mask_rcnn_R18_FPN_ce.py \
        train.max_iter=3 train.output_dir=output/smoke
    python tools/train_net.py --config-file CFG --eval-only train.init_checkpoint=output/.../model_final.pth
    python tools/train_net.py --config-file CFG --resume          # continue from the last checkpoint
    python tools/train_net.py --config-file CFG --num-gpus 8      # DDP via detectron2.engine.launch

Runs on CPU when no GPU is present. Writes checkpoints, metrics.json and tensorboard events to
`train.output_dir`.
"""
import sys

from noisy_seg.utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported

try:
    from detectron2.engine import default_argument_parser, default_setup, launch
    from detectron2.utils import comm
    from detectron2.utils.logger import setup_logger
except ImportError as e:
    sys.exit(
        f"error: detectron2 is not importable ({e}). Install it with `make install` "
        "or `python tools/install_detectron2.py`."
    )

from noisy_seg.engine import (  # noqa: E402
    check_config,
    do_test,
    do_train,
    load_for_eval,
    load_lazy_config,
    resolve_seed,
)
from noisy_seg.utils.errors import UserInputError  # noqa: E402


def load_config(config_file, opts):
    """The LazyConfig file with the command-line overrides, checked: every problem is one UserInputError."""
    cfg = load_lazy_config(config_file, opts, required=("model", "train", "dataloader"), missing_hint=(
        ": tools/train_net.py runs LazyConfig files (configs/*.py, or a run's saved config.yaml); yacs .yaml configs "
        "run with detectron2's DefaultTrainer after noisy_seg.config.add_noisy_seg_config(cfg)"))
    check_config(cfg)
    return cfg


def main(args):
    cfg = load_config(args.config_file, args.opts)
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
    args = default_argument_parser().parse_args(argv)
    try:  # validate the config before spawning workers, so errors are one line
        cfg = load_config(args.config_file, args.opts)
    except UserInputError as e:
        sys.exit(f"error: {e}")
    # a negative seed is drawn once, here, so that every process gets the same one (passed as an argument, not as
    # an override: a config of its own may lack train.seed)
    args.drawn_seed = resolve_seed(cfg)
    launch(
        _main_with_clear_errors,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )


if __name__ == "__main__":
    cli()
