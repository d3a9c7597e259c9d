"""The tools, inside the package: a `pip install` user has every workflow as `noisy-seg <command>` (or
`python -m noisy_seg.cli.<module>`), and `tools/<module>.py` in a checkout is the same call. Each module parses its
arguments and calls the package; `main(argv)` returns the exit status, and bad input ends in SystemExit("error:
...") with one line.

    noisy-seg train --config-file configs/toy/mask_rcnn_R18_FPN_ce.py dataloader.train.mapper.noise=sym40
    noisy-seg grid --grid demo
    noisy-seg --help                       # the commands
"""

import importlib
import sys

from ..utils.errors import did_you_mean, tool_exit_status
from ..utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported by a command

__all__ = ["COMMANDS", "main"]

# command -> module of noisy_seg.cli
COMMANDS = {
    "train": "train_net",
    "grid": "run_grid",
    "make-noisy-dataset": "make_noisy_dataset",
    "find-label-errors": "find_label_errors",
    "find-semantic-label-errors": "find_semantic_label_errors",
    "export-issues": "export_issues",
    "pseudo-labels": "generate_pseudo_labels",
    "pseudo-label-recipe": "run_pseudo_label_recipe",
    "generate-toy-data": "generate_toy_data",
    "visualize-noise": "visualize_noise",
    "plot-memorization": "plot_memorization",
    "pretrain-backbone": "pretrain_backbone",
    "label-error-evidence": "label_error_evidence",
    "label-error-over-seeds": "label_error_over_seeds",
}


def main(argv=None) -> int:
    """`noisy-seg <command> [its arguments]`: the command's main, its exit status (2 after one `error:` line)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: noisy-seg <command> [arguments]; `noisy-seg <command> --help` says more\n\ncommands:\n"
            + "\n".join(f"  {command:28s} tools/{module}.py" for command, module in COMMANDS.items())
        )
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(
            f"error: unknown command {command!r}; the commands: {', '.join(COMMANDS)}."
            + did_you_mean(command, COMMANDS),
            file=sys.stderr,
        )
        return 2
    module = importlib.import_module(f"{__name__}.{COMMANDS[command]}")
    sys.argv = [f"noisy-seg {command}", *rest]  # what argparse shows as the program
    entry = getattr(module, "cli", module.main)  # train_net: detectron2's main(args) is `cli(argv)` here
    return tool_exit_status(lambda: entry(rest))
