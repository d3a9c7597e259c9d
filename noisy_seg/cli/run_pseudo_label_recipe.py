#!/usr/bin/env python
"""The recipes of projects/PseudoLabels on the toy data, per seed, and their table.

    python tools/run_pseudo_label_recipe.py                    # `make pseudo-labels-toy`: semantic, seeds 0 1 2
    python tools/run_pseudo_label_recipe.py --task instance    # `make label-correction-toy`
    python tools/run_pseudo_label_recipe.py --seeds 0 --set train.max_iter=100 --output output/quick

Per seed, each step a process of its own, in OUTPUT/<step>__s<seed>/ with its log and exact command.
--task semantic (toy label maps, strong 10% + tags for the weak 90%):
  1. strong10_ce   plain CE on the strong 10% only (the lower reference)
  2. all_labels_ce plain CE on every true label map (the ceiling)
  3. stage1_cce    class-aware CE on the strong 10%
  4. pseudo_labels stage 1 over the weak 90% (multi-scale x flip, tag-masked): tools/generate_pseudo_labels.py
  5. stage2_ce     a fresh model, plain CE on the strong 10% + the pseudo labels
--task instance (toy COCO set, `--noise` class noise, default sym40, drawn with the seed: sym40_s<seed>):
  1. noisy json    tools/make_noisy_dataset.py
  2. stage1_ce     CE on the noisy labels
  3. combination   the combination loss (after CE for half the schedule) on the noisy labels
  4. correction    stage 1 relabels on the GT boxes: tools/generate_pseudo_labels.py --task instance
  5. stage2_ce     a fresh model, CE on the corrected labels
A finished step is reused and an interrupted one resumes (rerunning a killed recipe finishes it). At the end:
OUTPUT/summary.md (mean +- std over seeds) and results.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shlex
import sys
from pathlib import Path

from noisy_seg.utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported

from noisy_seg.engine.grid import training_problem
from noisy_seg.engine.grid_report import mean_std
from noisy_seg.engine.launcher import run_tool, tool_command, train_in_folder
from noisy_seg.noise.registry import NOISE_REGISTRY, named_noise_spec
from noisy_seg.utils.errors import UserInputError, tool_exit_status
from noisy_seg.utils.files import load_json, write_atomic
from noisy_seg.utils.run_folder import FINISHED, RunFolder, folder_problem, run_state

PROJECT = "projects/PseudoLabels/configs/toy"
OUTPUT = {"semantic": "output/PseudoLabels/toy/recipe", "instance": "output/PseudoLabels/toy/instance_recipe"}
WEAK_SET = "toy_shapes_cityscapes_sem_seg_train_weak90"
TRAININGS = {  # step -> config; the order is the run order
    "strong10_ce": f"{PROJECT}/strong10_ce.py",
    "all_labels_ce": "configs/toy/semantic_R18_FPN_ce.py",
    "stage1_cce": f"{PROJECT}/stage1_cce.py",
}
STAGE2 = f"{PROJECT}/stage2_ce.py"
INSTANCE_TRAININGS = {step: f"{PROJECT}/instance_{step}.py" for step in ("stage1_ce", "combination", "stage2_ce")}
SET_BY_THE_RECIPE = ("--config-file", "--weights", "--dataset", "--output", "--task", "--resume")  # pseudo labels
ROWS = [  # (step, what the table calls it)
    ("strong10_ce", "CE on the strong 10% only"),
    ("stage1_cce", "stage 1: class-aware CE on the strong 10%"),
    ("pseudo_labels", "pseudo labels of the weak 90% vs their true maps"),
    ("stage2_ce", "stage 2: CE on strong 10% + pseudo labels"),
    ("all_labels_ce", "CE on all true labels (ceiling)"),
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(OUTPUT), default="semantic")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--output", type=Path, help=f"default: {OUTPUT}[task]")
    parser.add_argument("--noise", help="instance: the class noise (short name, no _s<seed>; default sym40)")
    parser.add_argument("--relabel-threshold", type=float, help="instance: see generate_pseudo_labels (default 0.5)")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="overrides for every training")
    parser.add_argument(
        "--pseudo-label-args",
        default="",
        help='extra flags for generate_pseudo_labels.py, e.g. "--scales 1 --no-flip" or "--threshold 0.7"',
    )
    return parser.parse_args(argv)


def recipe_settings(args) -> dict:
    """What decides the recipe's results, but the seeds (another seed may join a folder): other settings are refused."""
    return {
        "task": args.task,
        "noise": args.noise,
        "relabel_threshold": args.relabel_threshold,
        "set": args.set,
        "pseudo_label_args": args.pseudo_label_args,
    }


def check_settings(args, output: Path) -> None:
    """Every setting checked before the first training (a bad one used to stop the recipe at its 4th step); fills
    in the instance defaults."""
    problem = folder_problem(output, "--output", resume=True)  # its settings: compared when it is opened
    if problem:
        raise UserInputError(problem)
    if len(set(args.seeds)) != len(args.seeds) or min(args.seeds) < 0:
        raise UserInputError(f"--seeds must be distinct ints >= 0, got {' '.join(map(str, args.seeds))}")
    if args.task == "instance":
        _check_instance_flags(args)
        trainings = {
            config: [f"dataloader.train.dataset.names.json_file={(output / 'train.json').resolve()}"]
            for config in INSTANCE_TRAININGS.values()
        }
    else:
        _check_semantic_flags(args)
        trainings = {
            **{config: [] for config in TRAININGS.values()},
            STAGE2: [f"dataloader.train.dataset.names.1.manifest_path={(output / 'manifest.json').resolve()}"],
        }
    loaded = {}
    for config, extra in trainings.items():  # the overrides each training gets, as train_net would check them
        problem = training_problem(
            config, [*args.set, *extra, f"train.seed={args.seeds[0]}", f"train.output_dir={output.resolve()}"], loaded
        )
        if problem:
            raise UserInputError(
                f"{config}" + (f" with --set {' '.join(args.set)}" if args.set else "") + f": {problem}"
            )


def _check_instance_flags(args) -> None:
    if args.pseudo_label_args:
        raise UserInputError(
            "--pseudo-label-args is for --task semantic; the instance correction takes --relabel-threshold"
        )
    args.noise = args.noise or "sym40"
    args.relabel_threshold = 0.5 if args.relabel_threshold is None else args.relabel_threshold
    if re.search(r"_s\d+$", args.noise):
        raise UserInputError(
            f"--noise {args.noise}: give the name without _s<seed>; the recipe draws it per seed (--seeds)"
        )
    try:
        spec = named_noise_spec(args.noise)
    except ValueError as err:
        raise UserInputError(f"--noise {args.noise}: {err}") from None
    if spec is None or NOISE_REGISTRY[spec["type"]].part == "semantic_noise":
        raise UserInputError(f"--noise {args.noise}: give instance label noise to correct (e.g. sym40, asym40_coco)")
    if not 0 <= args.relabel_threshold <= 1:
        raise UserInputError(f"--relabel-threshold must lie in [0, 1], got {args.relabel_threshold:g}")


def _check_semantic_flags(args) -> None:
    """--noise / --relabel-threshold are the instance task's; --pseudo-label-args must be flags that
    generate_pseudo_labels.py takes and the recipe does not set itself."""
    from . import generate_pseudo_labels

    given = [
        flag
        for flag, value in (("--noise", args.noise), ("--relabel-threshold", args.relabel_threshold))
        if value is not None
    ]
    if given:
        raise UserInputError(f"{given[0]} is for --task instance")
    try:
        extra = shlex.split(args.pseudo_label_args)
    except ValueError as err:
        raise UserInputError(f"--pseudo-label-args {args.pseudo_label_args!r}: {err}") from None
    taken = [flag for flag in extra if flag.split("=", 1)[0] in SET_BY_THE_RECIPE]
    if taken:
        raise UserInputError(f"--pseudo-label-args: {taken[0]} is set by the recipe; leave it out")
    messages = io.StringIO()
    try:
        with contextlib.redirect_stderr(messages):  # argparse's usage lines: only its error line is kept
            parsed = generate_pseudo_labels.parse_args(
                ["--config-file", "c.py", "--weights", "w.pth", "--output", "out", *extra]
            )
    except SystemExit:
        said = (messages.getvalue().strip().splitlines() or ["not valid"])[-1].split("error: ")[-1]
        raise UserInputError(f"--pseudo-label-args {args.pseudo_label_args!r}: {said}") from None
    try:
        generate_pseudo_labels.check_flags(parsed)
    except UserInputError as err:
        raise UserInputError(f"--pseudo-label-args: {err}") from None


def _run(command: list[str], log_folder: Path, name: str = "") -> int:
    """Run a tool, its output appended to <log_folder>/<name>log.txt beside the command (<name>command.txt)."""
    log_folder.mkdir(parents=True, exist_ok=True)
    printable = shlex.join(command)
    write_atomic(log_folder / f"{name}command.txt", printable + "\n")
    print(f"  $ {printable}", flush=True)
    return run_tool(command, log_folder / f"{name}log.txt")


def train(step: str, config: str, seed: int, output: Path, overrides: list[str], metric: str = "sem_seg/mIoU") -> float:
    """Train one step (reused when finished, resumed when interrupted); its final val `metric`."""
    folder = (output / f"{step}__s{seed}").resolve()
    print(f"  training {folder} (its command.txt and log.txt are there)", flush=True)
    run = train_in_folder(config, [*overrides, f"train.seed={seed}"], folder, flag="step")
    if run.status == "failed":
        raise RuntimeError(f"{step} (seed {seed}) failed; see {run.log}")
    return run.metrics[metric]


def pseudo_labels(seed: int, output: Path, extra: list[str]) -> tuple[Path, float]:
    """Stage 1's pseudo labels of the weak part (resumed when interrupted); (manifest, their mIoU vs the truth)."""
    folder = output / f"pseudo_labels__s{seed}"  # the tool's own output folder: its log lives beside it
    manifest = folder / "manifest.json"
    if run_state(folder) != FINISHED:
        command = [
            *tool_command("generate_pseudo_labels"),
            "--config-file",
            TRAININGS["stage1_cce"],
            "--weights",
            str((output / f"stage1_cce__s{seed}" / "model_final.pth").resolve()),
            "--dataset",
            WEAK_SET,
            "--output",
            str(folder.resolve()),
            *(["--resume"] if folder.exists() else []),
            *extra,
        ]
        if _run(command, output, f"{folder.name}.") != 0:
            raise RuntimeError(f"pseudo labels (seed {seed}) failed; see {output / (folder.name + '.log.txt')}")
    return manifest, load_json(manifest)["quality"]["mIoU"]


def run_seed(seed: int, output: Path, overrides: list[str], pseudo_label_args: list[str]) -> dict:
    results = {}
    for step, config in TRAININGS.items():
        results[step] = train(step, config, seed, output, overrides)
        print(f"seed {seed}: {step} val mIoU {results[step]:.1f}", flush=True)
    manifest, results["pseudo_labels"] = pseudo_labels(seed, output, pseudo_label_args)
    print(f"seed {seed}: pseudo labels mIoU vs truth {results['pseudo_labels']:.1f}", flush=True)
    stage2 = [*overrides, f"dataloader.train.dataset.names.1.manifest_path={manifest.resolve()}"]
    results["stage2_ce"] = train("stage2_ce", STAGE2, seed, output, stage2)
    print(f"seed {seed}: stage2_ce val mIoU {results['stage2_ce']:.1f}", flush=True)
    return results


INSTANCE_ROWS = [
    ("stage1_ce", "CE on the noisy labels (stage 1)"),
    ("combination", "combination loss on the noisy labels"),
    ("stage2_ce", "CE on the corrected labels (stage 2)"),
]
COUNTS = ["noisy_before", "restored", "changed_still_wrong", "broken", "noisy_after"]


def run_instance_seed(seed: int, output: Path, overrides: list[str], noise: str, relabel_threshold: float) -> dict:
    noisy_json = (output / f"train_{noise}_s{seed}.json").resolve()
    if not noisy_json.is_file():
        from detectron2.data import MetadataCatalog

        import noisy_seg.data  # noqa: F401  (registers the toy sets)

        command = [
            *tool_command("make_noisy_dataset"),
            "--input",
            MetadataCatalog.get("toy_shapes_train").json_file,
            "--noise",
            f"{noise}_s{seed}",
            "--output",
            str(noisy_json),
            "--no-progress",
        ]
        if _run(command, output, f"{noisy_json.stem}.") != 0:
            raise RuntimeError(f"the noisy copy (seed {seed}) failed; see {output / (noisy_json.stem + '.log.txt')}")
    on_noisy = [*overrides, f"dataloader.train.dataset.names.json_file={noisy_json}"]
    results = {
        step: train(step, INSTANCE_TRAININGS[step], seed, output, on_noisy, "segm/AP")
        for step in ("stage1_ce", "combination")
    }
    correction = output / f"correction__s{seed}"
    report = correction / "corrections.json"
    if run_state(correction) != FINISHED:
        command = [
            *tool_command("generate_pseudo_labels"),
            "--task",
            "instance",
            "--config-file",
            INSTANCE_TRAININGS["stage1_ce"],
            "--weights",
            str((output / f"stage1_ce__s{seed}" / "model_final.pth").resolve()),
            "--output",
            str(correction.resolve()),
            "--relabel-threshold",
            str(relabel_threshold),
            *(["--resume"] if correction.exists() else []),
            "--no-progress",
            *on_noisy,
        ]
        if _run(command, output, f"{correction.name}.") != 0:
            raise RuntimeError(f"the correction (seed {seed}) failed; see {output / (correction.name + '.log.txt')}")
    results.update(load_json(report)["summary"]["label_noise"])
    stage2 = [*overrides, f"dataloader.train.dataset.names.json_file={(correction / 'corrected.json').resolve()}"]
    results["stage2_ce"] = train("stage2_ce", INSTANCE_TRAININGS["stage2_ce"], seed, output, stage2, "segm/AP")
    print(
        f"seed {seed}: "
        + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in results.items()),
        flush=True,
    )
    return results


def _row(title: str, values: list[float]) -> str:
    mean, std = mean_std(values)
    spread = f" +- {std:.1f}" if len(values) > 1 else " (one seed)"
    return f"| {title} | {mean:.1f}{spread} | {', '.join(f'{v:.1f}' for v in values)} |"


def instance_summary(per_seed: dict[int, dict], output: Path, noise: str, relabel_threshold: float) -> str:
    seeds = sorted(per_seed)
    lines = [
        f"Toy COCO set under {noise} (drawn per seed, {noise}_s<seed>); val mask AP, mean +- std over seeds "
        f"{seeds} (n = {len(seeds)}); relabel threshold {relabel_threshold}; each run's command: "
        f"{output}/<step>__s<seed>/command.txt",
        "",
        "| step | mask AP | per seed |",
        "|---|---|---|",
    ]
    lines += [_row(title, [per_seed[s][step] for s in seeds]) for step, title in INSTANCE_ROWS]
    lines += [
        "",
        "Training annotations (of " + ", ".join(str(per_seed[s]["annotations"]) for s in seeds) + "):",
        "",
        "| " + " | ".join(["seed"] + COUNTS) + " |",
        "|" + "---|" * (len(COUNTS) + 1),
    ]
    lines += ["| " + " | ".join([str(s)] + [str(per_seed[s][key]) for key in COUNTS]) + " |" for s in seeds]
    return "\n".join(lines) + "\n"


def summary(per_seed: dict[int, dict], output: Path) -> str:
    lines = [
        f"Toy label maps, strong 10% + tags for the weak 90%; mIoU (%), mean +- std over seeds "
        f"{sorted(per_seed)} (n = {len(per_seed)}); each run's command: {output}/<step>__s<seed>/command.txt",
        "",
        "| step | mIoU | per seed |",
        "|---|---|---|",
    ]
    lines += [_row(title, [per_seed[seed][step] for seed in sorted(per_seed)]) for step, title in ROWS]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    output = args.output or Path(OUTPUT[args.task])
    try:
        check_settings(args, output)
        RunFolder.open(output, recipe_settings(args), resume=True)
    except UserInputError as err:
        raise SystemExit("error: " + " ".join(str(err).split())) from None
    except OSError as err:  # what the checks cannot see (a read-only mount, a full disk, ...)
        raise SystemExit(f"error: cannot make --output {output}: {err.strerror or err}") from None
    try:
        per_seed = {}
        for seed in args.seeds:
            if args.task == "semantic":
                per_seed[seed] = run_seed(seed, output, args.set, shlex.split(args.pseudo_label_args))
            else:
                per_seed[seed] = run_instance_seed(seed, output, args.set, args.noise, args.relabel_threshold)
    except (RuntimeError, UserInputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    table = (
        summary(per_seed, output)
        if args.task == "semantic"
        else instance_summary(per_seed, output, args.noise, args.relabel_threshold)
    )
    write_atomic(output / "summary.md", table)
    write_atomic(output / "results.json", json.dumps({str(s): r for s, r in per_seed.items()}, indent=1))
    print("\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(tool_exit_status(main))
