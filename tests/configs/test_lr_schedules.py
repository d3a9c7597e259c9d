"""The seed's poly and one-cycle LR schedules (noisy_seg/config/lr_schedules.py) against their closed forms, alone,
under detectron2's warmup, from the LazyConfig piece and driving an optimizer through detectron2's LRMultiplier."""

import math
import shutil
from pathlib import Path

import pytest
import torch

from detectron2.config import LazyConfig, instantiate
from detectron2.solver import LRMultiplier, WarmupParamScheduler

from noisy_seg.config import one_cycle_schedule, poly_schedule

REPO = Path(__file__).resolve().parents[2]
SCHEDULES = REPO / "configs/common/semantic_schedules.py"
TS = [0.0, 0.05, 0.1, 0.25, 0.3, 0.31, 0.5, 0.75, 0.9, 0.95, 0.98, 0.985, 0.99, 0.995, 0.999]


def poly_formula(t, power=0.9, floor=0.02):
    return max((1 - t) ** power, floor)


def one_cycle_formula(t, peak_at=0.3, div_factor=25.0):
    low = 1 / div_factor
    if t < peak_at:
        return low + (1 - low) * (1 - math.cos(math.pi * t / peak_at)) / 2
    return low + (1 - low) * (1 + math.cos(math.pi * (t - peak_at) / (1 - peak_at))) / 2


@pytest.mark.parametrize("power,floor", [(0.9, 0.02), (1.0, 0.1), (2.0, 0.0)])
def test_poly_follows_the_seed_formula(power, floor):
    sched = poly_schedule(power=power, floor=floor)
    for t in TS:
        assert sched(t) == pytest.approx(poly_formula(t, power, floor), abs=1e-5), t


def test_poly_default_is_the_seeds_and_holds_its_floor_at_the_end():
    sched = poly_schedule()
    floor_from = 1 - 0.02 ** (1 / 0.9)  # ~0.987
    assert sched(0.0) == 1.0
    assert sched(floor_from - 0.01) > 0.02
    assert [sched(t) for t in (floor_from + 1e-4, 0.995, 0.9999)] == pytest.approx([0.02] * 3)


@pytest.mark.parametrize("peak_at,div_factor", [(0.3, 25.0), (0.5, 10.0), (0.1, 1.0)])
def test_one_cycle_follows_the_cosine_formula(peak_at, div_factor):
    sched = one_cycle_schedule(peak_at=peak_at, div_factor=div_factor)
    for t in TS:
        assert sched(t) == pytest.approx(one_cycle_formula(t, peak_at, div_factor), abs=1e-9), t


def test_one_cycle_default_starts_peaks_and_ends_where_the_seed_says():
    sched = one_cycle_schedule()
    assert sched(0.0) == pytest.approx(1 / 25)
    assert sched(0.15) == pytest.approx((1 / 25 + 1) / 2)  # halfway up a cosine is the mean of its ends
    assert sched(0.3) == pytest.approx(1.0)
    assert sched(0.9999) == pytest.approx(1 / 25, abs=1e-6)
    ups = [sched(0.3 * i / 10) for i in range(11)]
    downs = [sched(0.3 + 0.7 * i / 10) for i in range(11)]
    assert ups == sorted(ups) and downs == sorted(downs, reverse=True)


@pytest.mark.parametrize(
    "sched,end", [(poly_schedule(), 0.02), (poly_schedule(floor=0.0), 0.0), (one_cycle_schedule(), 1 / 25)]
)
def test_schedules_are_defined_at_the_end_of_training(sched, end):
    # detectron2's trainer steps LRMultiplier after the last iteration too: it asks for t = max_iter / max_iter
    assert sched(1.0) == pytest.approx(end)


@pytest.mark.parametrize("make,first", [(poly_schedule, 1.0), (one_cycle_schedule, 1 / 25)])
def test_warmup_composes(make, first):
    base = make()
    sched = WarmupParamScheduler(base, warmup_factor=0.1, warmup_length=0.05)
    assert sched(0.0) == pytest.approx(0.1 * first)  # warmup_factor x the schedule's first value
    assert sched(0.025) == pytest.approx((0.1 * first + base(0.05)) / 2)  # linear towards the schedule ...
    for t in (0.05, 0.2, 0.6, 0.99):
        assert sched(t) == pytest.approx(base(t))  # ... which is unchanged (not shifted) after warmup


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: poly_schedule(power=0), "power > 0"),
        (lambda: poly_schedule(power=-1.0), "power > 0"),
        (lambda: poly_schedule(floor=1.0), "0 <= floor < 1"),
        (lambda: poly_schedule(floor=-0.1), "0 <= floor < 1"),
        (lambda: poly_schedule(power=float("nan")), "power > 0"),
        (lambda: one_cycle_schedule(peak_at=0.0), "0 < peak_at < 1"),
        (lambda: one_cycle_schedule(peak_at=1.0), "0 < peak_at < 1"),
        (lambda: one_cycle_schedule(div_factor=0.5), "div_factor >= 1"),
    ],
)
def test_bad_arguments_are_one_line_value_errors(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def test_lazy_config_piece_instantiates():
    cfg = LazyConfig.load(str(SCHEDULES))
    poly, one_cycle = instantiate(cfg.lr_multiplier_poly), instantiate(cfg.lr_multiplier_one_cycle)
    for t in TS:
        assert poly(t) == pytest.approx(poly_formula(t), abs=1e-5)
        assert one_cycle(t) == pytest.approx(one_cycle_formula(t), abs=1e-9)


def test_a_config_picks_a_schedule_and_the_command_line_tunes_it(tmp_path):
    # the layout of configs/: a config next to common/ imports the piece relatively
    (tmp_path / "common").mkdir()
    (tmp_path / "semantic").mkdir()
    shutil.copy(SCHEDULES, tmp_path / "common/semantic_schedules.py")
    config = tmp_path / "semantic/some_config.py"
    config.write_text("from ..common.semantic_schedules import lr_multiplier_poly as lr_multiplier\n")
    cfg = LazyConfig.apply_overrides(
        LazyConfig.load(str(config)), ["lr_multiplier.scheduler.power=1.0", "lr_multiplier.scheduler.floor=0.1"]
    )
    sched = instantiate(cfg.lr_multiplier)
    assert [sched(t) for t in (0.0, 0.5, 0.95)] == pytest.approx([1.0, 0.5, 0.1])


@pytest.mark.parametrize(
    "name,formula", [("lr_multiplier_poly", poly_formula), ("lr_multiplier_one_cycle", one_cycle_formula)]
)
def test_lr_multiplier_drives_an_optimizer(name, formula):
    cfg = LazyConfig.load(str(SCHEDULES))
    getattr(cfg, name).warmup_length = 0.1
    multiplier = instantiate(getattr(cfg, name))
    base_lr, max_iter = 0.1, 100
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr, momentum=0.9)
    scheduler = LRMultiplier(optimizer, multiplier, max_iter)
    start, warmup_end = 0.001 * formula(0.0), formula(0.1)
    for it in range(max_iter):
        t = it / max_iter
        expected = start + (warmup_end - start) * t / 0.1 if t < 0.1 else formula(t)
        assert optimizer.param_groups[0]["lr"] == pytest.approx(base_lr * expected, abs=1e-6), it
        optimizer.step()
        scheduler.step()
