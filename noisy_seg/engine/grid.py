"""Grids of training runs: losses x noise settings x seeds, each cell one `tools/train_net.py` process.

A grid is a YAML file (configs/grids/*.yaml) or the same fields from the command line:

    dataset: toy                  # which configs the loss names mean: NoisyClassLabels' (toy, coco, cityscapes),
                                  # NoisySemanticLabels' (toy_semantic), NoisyMasks' mask losses (toy_masks)
    configs: {mine: path/to.py}   # more names -> LazyConfig files (optional)
    baseline: ce                  # the loss the report compares the others with (default: ce; toy_masks: bce)
    seeds: [0, 1, 2]
    overrides: [train.max_iter=300]   # applied to every cell
    blocks:                        # each block is a product of losses and noise settings
      - {losses: [ce], noise: [clean]}
      - {losses: [ce, sce, combination], noise: [symmix40]}

Cells are independent, so a grid resumes: a cell whose run finished is reused, a cell that was
interrupted continues from its last checkpoint (--resume), and a cell that crashed is reported as
failed with its log while the others go on.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import yaml

from ..model_zoo import ZOO_ROOT
from ..utils.errors import UserInputError
from ..utils.run_folder import RunFolder, folder_problem
from .jobs import JobResult, TrainingJob, run_jobs
from .launcher import NO_PREDICTIONS, REPO_ROOT, training_command, training_folder_problem
from .run_info import read_run_info

__all__ = [
    "Cell",
    "CellResult",
    "Grid",
    "LOSS_CONFIGS",
    "check_cells",
    "grid_settings",
    "load_grid",
    "run_grid",
    "training_problem",
]
GRID_FOLDER = ZOO_ROOT / "configs" / "grids"  # the packaged copy of configs/grids: grid names work when installed
_PROJECT = "projects/NoisyClassLabels/configs"
_SEMANTIC = "projects/NoisySemanticLabels/configs"
_MASKS = "projects/NoisyMasks/configs/toy"
_MASK_LOSSES = ("bce", "sbce", "pixel_gce", "bootstrap_soft", "bootstrap_hard", "boundary_bce", "dice_bce", "bpm_bce")
# the loss each dataset's grids compare the others with: the stock loss of the sub-task its configs vary
BASELINES = {"toy_masks": "bce"}
# loss name -> config of the NoisyClassLabels (instance) and NoisySemanticLabels (semantic) projects, per dataset
LOSS_CONFIGS = {
    "toy_semantic": {
        "ce": f"{_SEMANTIC}/toy/semantic_R18_FPN_ce.py",
        "sce": f"{_SEMANTIC}/toy/semantic_R18_FPN_sce.py",
        "gce": f"{_SEMANTIC}/toy/semantic_R18_FPN_gce.py",
        "region_aware": f"{_SEMANTIC}/toy/semantic_R18_FPN_region_aware.py",
        "combination": f"{_SEMANTIC}/toy/combination_switch.py",
    },
    "toy_masks": {  # the mask head's losses (NoisyMasks project); the box classifier keeps CE
        **{loss: f"{_MASKS}/mask_rcnn_R18_FPN_{loss}.py" for loss in _MASK_LOSSES},
        "noisy_boundaries": f"{_MASKS}/mask_rcnn_R18_FPN_noisy_boundaries.py",
        # ablations of Noisy Boundaries: its head with BCE, BCE at the 3x scale its loss has on average
        "noise_tolerant_bce": f"{_MASKS}/mask_rcnn_R18_FPN_noise_tolerant_bce.py",
        "bce_x3": f"{_MASKS}/mask_rcnn_R18_FPN_bce_x3.py",
    },
    "toy": {
        "ce": f"{_PROJECT}/toy/mask_rcnn_R18_FPN_ce.py",
        "sce": f"{_PROJECT}/toy/mask_rcnn_R18_FPN_sce.py",
        "gce": f"{_PROJECT}/toy/mask_rcnn_R18_FPN_gce.py",
        "nce_rce": f"{_PROJECT}/toy/mask_rcnn_R18_FPN_nce_rce.py",
        "combination": f"{_PROJECT}/toy/combination_switch.py",
    },
    "coco": {
        "ce": f"{_PROJECT}/COCO/mask_rcnn_R_50_FPN_1x_ce.py",
        "sce": f"{_PROJECT}/COCO/mask_rcnn_R_50_FPN_1x_sce.py",
        "gce": f"{_PROJECT}/COCO/mask_rcnn_R_50_FPN_1x_gce.py",
        "nce_rce": f"{_PROJECT}/COCO/mask_rcnn_R_50_FPN_1x_nce_rce.py",
        "combination": f"{_PROJECT}/COCO/combination_switch.py",
    },
    "cityscapes": {
        "ce": f"{_PROJECT}/Cityscapes/mask_rcnn_R_50_FPN_ce.py",
        "sce": f"{_PROJECT}/Cityscapes/mask_rcnn_R_50_FPN_sce.py",
        "gce": f"{_PROJECT}/Cityscapes/mask_rcnn_R_50_FPN_gce.py",
        "nce_rce": f"{_PROJECT}/Cityscapes/mask_rcnn_R_50_FPN_nce_rce.py",
        "combination": f"{_PROJECT}/Cityscapes/combination_switch.py",
    },
}


@dataclass(frozen=True)
class Cell:
    """One training run of a grid."""

    loss: str  # a name of the grid's configs
    noise: str  # a short noise name (noisy_seg/noise/registry.py) or "clean"
    seed: int
    config: str  # the LazyConfig file; "" when the loss name is not one of the grid's configs
    overrides: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.loss}__{self.noise}__s{self.seed}"

    def opts(self, device: Optional[str]) -> list[str]:
        """Its overrides of the config (the output folder is the launcher's)."""
        opts = [*self.overrides, f"dataloader.train.mapper.noise={self.noise}", f"train.seed={self.seed}"]
        return opts + ([f"train.device={device}"] if device else [])

    def command(self, output_dir: Path, device: Optional[str], resume: bool = False) -> list[str]:
        return training_command(self.config, self.opts(device), output_dir, resume)


@dataclass
class Grid:
    name: str
    cells: list[Cell]
    output: Path
    description: str = ""
    noise_order: list[str] = field(default_factory=list)  # column order of the report
    loss_order: list[str] = field(default_factory=list)
    known_losses: list[str] = field(default_factory=list)  # the names its configs give meaning to
    baseline: str = "ce"  # the loss every other is compared with at the same noise (the report's "vs" column)


@dataclass
class CellResult:
    cell: Cell
    status: str  # "done", "reused", "failed"
    metrics: dict
    minutes: float
    log: Path
    command: str
    what_ran: str = ""  # the box-loss schedule the run recorded in its run_info.json


def _as_list(value, what: str) -> list:
    if value is None:
        return []
    if isinstance(value, (str, int)):
        return [value]
    if not isinstance(value, list):
        raise UserInputError(f"grid: '{what}' must be a list, got {value!r}")
    return value


def load_grid(spec: dict, name: str, output: Optional[Path] = None) -> Grid:
    """A Grid from a parsed grid file or command line (see the module docstring)."""
    known = {"description", "dataset", "configs", "seeds", "overrides", "blocks", "output", "baseline"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise UserInputError(f"grid {name}: unknown field(s) {unknown}; the fields are {sorted(known)}")
    dataset = spec.get("dataset", "toy")
    if dataset not in LOSS_CONFIGS:
        raise UserInputError(f"grid {name}: unknown dataset {dataset!r}; choose one of {sorted(LOSS_CONFIGS)}")
    configs = {**LOSS_CONFIGS[dataset], **(spec.get("configs") or {})}
    seeds = _as_list(spec.get("seeds", [0]), "seeds")
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise UserInputError(f"grid {name}: seeds must be a non-empty list of ints >= 0, got {seeds!r}")
    overrides = tuple(str(o) for o in _as_list(spec.get("overrides"), "overrides"))
    blocks = _as_list(spec.get("blocks"), "blocks")
    if not blocks:
        raise UserInputError(f"grid {name}: no blocks; give at least one {{losses: [...], noise: [...]}}")
    cells, losses, noises = [], [], []
    for block in blocks:
        if not isinstance(block, dict) or set(block) - {"losses", "noise"}:
            raise UserInputError(f"grid {name}: a block is {{losses: [...], noise: [...]}}, got {block!r}")
        block_losses = [str(x) for x in _as_list(block.get("losses"), "losses")]
        block_noise = [str(x) for x in _as_list(block.get("noise"), "noise")]
        for loss, noise in itertools.product(block_losses, block_noise):
            losses += [loss] if loss not in losses else []
            noises += [noise] if noise not in noises else []
            for seed in seeds:
                cell = Cell(loss, noise, seed, str(configs.get(loss, "")), overrides)
                if cell not in cells:
                    cells.append(cell)
    output = Path(output or spec.get("output") or REPO_ROOT / "output" / "grids" / name)
    baseline = str(spec.get("baseline") or BASELINES.get(dataset, "ce"))
    return Grid(name, cells, output, str(spec.get("description", "")), noises, losses, sorted(configs), baseline)


def read_grid_file(name_or_path: str) -> tuple[dict, str]:
    """A grid file's content and name: a path, or the name of a file in configs/grids/ (as packaged)."""
    path = Path(name_or_path)
    if not path.is_file():
        path = GRID_FOLDER / f"{name_or_path}.yaml"
    if not path.is_file():
        available = sorted(p.stem for p in GRID_FOLDER.glob("*.yaml"))
        raise UserInputError(f"grid {name_or_path!r} not found: give a YAML file or one of {available}")
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise UserInputError(f"grid file {path} is not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(spec, dict):
        raise UserInputError(f"grid file {path} must hold a mapping of fields")
    return spec, path.stem


def check_cells(grid: Grid, device: Optional[str]) -> list[str]:
    """Every bad cell with its one-line problem (nothing is run). Each config is loaded once."""
    problem = folder_problem(grid.output, "--output", settings=grid_settings(grid), resume=True)
    if problem:
        return [problem]
    loaded, problems = {}, []
    for cell in grid.cells:
        if not cell.config:
            problems.append(f"{cell.name}: unknown loss {cell.loss!r}; known: {', '.join(grid.known_losses)}")
            continue
        problem = training_folder_problem(grid.output / cell.name, cell.config, cell.opts(device), flag="cell")
        if problem:
            problems.append(f"{cell.name}: {problem}")
            continue
        problem = training_problem(
            cell.config, [*cell.opts(device), f"train.output_dir={grid.output / cell.name}"], loaded
        )
        if problem:
            problems.append(f"{cell.name}: {problem}")
    return problems


def training_problem(config: str, opts: list[str], loaded: Optional[dict] = None) -> Optional[str]:
    """Why tools/train_net.py would refuse the LazyConfig `config` (relative to the repository) with the overrides
    `opts` (None if it would not), checked without running anything; `loaded` caches the loaded configs by path."""
    from .config_checks import check_config
    from .config_files import load_lazy_config
    from .overrides import apply_overrides

    loaded = {} if loaded is None else loaded
    path = config if os.path.isabs(config) else str(REPO_ROOT / config)
    if path not in loaded:
        try:
            loaded[path] = load_lazy_config(path, ()) if os.path.isfile(path) else None
        except Exception as err:  # a config that does not even load: reported, not raised
            loaded[path] = err
    base = loaded[path]
    if base is None or isinstance(base, Exception):
        return f"config {config} " + ("not found" if base is None else f"cannot be loaded ({base})")
    try:
        check_config(apply_overrides(base.copy(), opts))
    except (UserInputError, ValueError) as err:
        return str(err)
    return None


def grid_settings(grid: Grid) -> dict:
    """What a grid's output folder records: its name (another grid's folder is refused; more cells may join)."""
    return {"grid": grid.name}


def _what_ran(folder: Path) -> str:
    return read_run_info(folder).get("box_loss", "")


def run_grid(
    grid: Grid,
    jobs: int = 1,
    device: Optional[str] = None,
    report: Callable[[str], None] = print,
    gpus: Sequence[str] = (),
    jobs_per_gpu: int = 1,
) -> list[CellResult]:
    """Run (or reuse) every cell, `jobs` at a time (engine.jobs.run_jobs); progress with an ETA goes to `report`.
    `gpus`: each cell on one of them (CUDA_VISIBLE_DEVICES), `jobs_per_gpu` at a time."""
    RunFolder.open(grid.output, grid_settings(grid), resume=True)
    trainings = [
        TrainingJob(cell.name, cell.config, tuple(cell.opts(device)), grid.output / cell.name, flag="cell")
        for cell in grid.cells
    ]
    runs = run_jobs(
        trainings,
        jobs,
        title=f"grid {grid.name} ({grid.output})",
        report=report,
        describe=_main_metric,
        gpus=gpus,
        jobs_per_gpu=jobs_per_gpu,
    )
    return [
        CellResult(cell, run.status, run.metrics, run.minutes, run.log, run.command, _what_ran(run.folder))
        for cell, run in zip(grid.cells, runs)
    ]


def _main_metric(run: JobResult) -> str:
    """ ", mask AP 50.7" (or mIoU) of a finished training, and whether it predicted nothing."""
    text = next(
        (
            f", {label} {run.metrics[key]:.1f}"
            for key, label in (("segm/AP", "mask AP"), ("sem_seg/mIoU", "mIoU"))
            if key in run.metrics
        ),
        "",
    )
    return text + (f" ({NO_PREDICTIONS})" if run.metrics.get(NO_PREDICTIONS) else "")
