#!/usr/bin/env python
"""Pretrain a config's backbone on the procedural corpus (noisy_seg.data.datasets.pretraining_corpus) and write a
detectron2 checkpoint that `train.init_checkpoint` (yacs: MODEL.WEIGHTS) loads: the ImageNet step of a detectron2
recipe, made here.

    python tools/pretrain_backbone.py --output output/pretrain/R18_tiny_shapes.pth
    python tools/pretrain_backbone.py --config-file toy/mask_rcnn_R18_FPN_ce.py --task dense --iterations 1500 \
        --output output/pretrain/dense.pth

Writes OUTPUT and OUTPUT.json (settings, corpus version, val score, minutes, sha256); OUTPUT must not exist. The same
settings give the same weights on one machine (every sample is drawn from its seed and index).
"""

import argparse
import logging
import shlex
import sys
from dataclasses import fields

from noisy_seg.utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported

from noisy_seg.engine.pretraining import PretrainSettings, pretrain_backbone
from noisy_seg.utils.errors import UserInputError, tool_exit_status

DEFAULTS = PretrainSettings()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--output", required=True, help="the checkpoint to write (.pth; must not exist)")
    parser.add_argument(
        "--config-file",
        default=DEFAULTS.config,
        help="the LazyConfig whose model.backbone.bottom_up is pretrained (a path or a packaged name)",
    )
    for field in fields(PretrainSettings):
        if field.name == "config":
            continue
        parser.add_argument(
            f"--{field.name.replace('_', '-')}",
            type=type(field.default),
            default=field.default,
            choices=("classification", "dense") if field.name == "task" else None,
            help=f"default: {field.default}",
        )
    parser.add_argument("--num-workers", type=int, default=1, help="corpus rendering processes (default: 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        settings = PretrainSettings(
            config=args.config_file,
            **{f.name: getattr(args, f.name) for f in fields(PretrainSettings) if f.name != "config"},
        )
        command = shlex.join(["python", "tools/pretrain_backbone.py", *(argv or sys.argv[1:])])
        manifest = pretrain_backbone(
            settings, args.output, num_workers=args.num_workers, progress=not args.no_progress, command=command
        )
    except (UserInputError, OSError) as err:
        raise SystemExit(f"error: {' '.join(str(err).split())}") from None
    print(f"wrote {args.output} ({manifest['train_minutes']} min; val {manifest['val']}; sha256 {manifest['sha256']})")
    return 0


if __name__ == "__main__":
    sys.exit(tool_exit_status(main))
