#!/usr/bin/env python
"""Run a grid of trainings (losses x noise settings x seeds) and report mean +- std over seeds.

    python tools/run_grid.py --grid demo                  # what `make demo` runs (configs/grids/demo.yaml)
    python tools/run_grid.py --grid robust --jobs 2       # `make bench-robust`
    python tools/run_grid.py --grid my_grid.yaml --device cuda --jobs 4
    python tools/run_grid.py --losses ce combination --noise clean symmix40 --seeds 0 1 2 \\
        --set train.max_iter=200 --name quick
    python tools/run_grid.py --grid robust --check        # validate every cell, run nothing

Each cell is `tools/train_net.py` in its own process (`--jobs` at a time) writing to OUTPUT/<loss>__<noise>__s<seed>/
with its log and exact command. A finished cell is reused and an interrupted one continues from its last
checkpoint, so rerunning a killed grid finishes it. A cell that crashes is reported as failed with its log,
and the others go on. At the end: OUTPUT/summary.md and summary.csv (mean +- std and n per loss and noise),
cells.csv (every run, its metrics and command) and a PNG of mask AP against the noise settings per loss.
"""

import argparse
import sys
from pathlib import Path

from noisy_seg.utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported

from noisy_seg.engine.grid import (
    LOSS_CONFIGS,
    check_cells,
    grid_settings,
    load_grid,
    read_grid_file,
    run_grid,
)
from noisy_seg.engine.grid_report import markdown, summarize, write_report
from noisy_seg.engine.jobs import add_gpu_arguments, check_gpu_arguments
from noisy_seg.utils.errors import UserInputError, tool_exit_status
from noisy_seg.utils.run_folder import folder_problem


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", help="a grid YAML file, or the name of one in configs/grids/")
    parser.add_argument("--losses", nargs="+", help="loss names (or names given in a grid file's configs)")
    parser.add_argument("--noise", nargs="+", help="noise names, e.g. clean sym40 symmix40 coco_n_medium")
    parser.add_argument("--seeds", nargs="+", type=int, help="training seeds (default 0)")
    parser.add_argument("--dataset", choices=sorted(LOSS_CONFIGS), help="whose configs the loss names mean")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="overrides for every cell")
    parser.add_argument("--name", help="the grid's name (default: the grid file's, or 'cli')")
    parser.add_argument("--output", type=Path, help="output folder (default: output/grids/<name>)")
    parser.add_argument("--jobs", type=int, help="cells run at once (default 1, or with --gpus every GPU's share)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="train.device of every cell")
    add_gpu_arguments(parser)
    parser.add_argument("--check", action="store_true", help="validate every cell and stop")
    return parser.parse_args(argv)


def grid_from_args(args):
    spec, name = read_grid_file(args.grid) if args.grid else ({}, "cli")
    if args.losses or args.noise:
        if not (args.losses and args.noise):
            raise UserInputError("give both --losses and --noise (or a --grid file)")
        spec["blocks"] = [{"losses": args.losses, "noise": args.noise}]
    if args.seeds is not None:
        spec["seeds"] = args.seeds
    if args.dataset:
        spec["dataset"] = args.dataset
    spec["overrides"] = [*(spec.get("overrides") or []), *args.set]
    if not args.grid and not args.losses:
        raise UserInputError("give --grid NAME_OR_FILE, or --losses ... --noise ...")
    return load_grid(spec, args.name or name, args.output)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        args.jobs = check_gpu_arguments(args)
        if args.gpus and args.device == "cpu":
            raise UserInputError("--gpus runs each cell on a GPU; leave out --device cpu")
        args.device = "cuda" if args.gpus else args.device
        grid = grid_from_args(args)
        problem = folder_problem(grid.output, "--output", settings=grid_settings(grid), resume=True)
        if problem:
            raise UserInputError(problem)
        problems = check_cells(grid, args.device)
    except UserInputError as e:
        sys.exit(f"error: {e}")
    if problems:
        print(f"error: {len(problems)} of {len(grid.cells)} cells cannot run; nothing was started:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    if args.check:
        print(f"grid {grid.name}: {len(grid.cells)} cells, all valid")
        return 0
    try:
        grid.output.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # what the checks cannot see (a read-only mount, a full disk, ...)
        sys.exit(f"error: cannot make --output {grid.output}: {err.strerror or err}; give a folder you can write")
    results = run_grid(grid, jobs=args.jobs, device=args.device, gpus=args.gpus, jobs_per_gpu=args.jobs_per_gpu)
    try:
        paths = write_report(grid, results)
    except OSError as err:
        sys.exit(
            f"error: the runs are done, but the report could not be written under {grid.output}: "
            f"{err.strerror or err}; free space or fix access and rerun (finished cells are reused)"
        )
    print(f"\n{markdown(summarize(grid, results))}\n")
    print(f"table: {paths['markdown']}  csv: {paths['summary_csv']}  runs: {paths['cells_csv']}  plot: {paths['plot']}")
    return 1 if any(r.status == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(tool_exit_status(main))
