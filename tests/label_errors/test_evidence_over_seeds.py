"""benchmarks/label_error_over_seeds.py: mean +- std per score over seeded evidence runs, the verdict by the grids'
rule (a gap beyond twice the larger std), the check against chance, and the refusals at the boundary."""

import json
from pathlib import Path

import pytest

from noisy_seg.cli import label_error_over_seeds as over_seeds


def row(method, score, ap, auroc=0.5, errors=10, n=100, setting="sym40", issue="class flip", note=""):
    return {
        "setting": setting,
        "issue": issue,
        "method": method,
        "score": score,
        "n": n,
        "errors": errors,
        "auroc": auroc,
        "ap": ap,
        "p10": None,
        "p100": None,
        "note": note,
    }


def write_run(folder: Path, seed: int, rows: list, **settings) -> Path:
    folder.mkdir(parents=True)
    (folder / "evidence.json").write_text(
        json.dumps(
            {
                "settings": {"dataset": "toy_shapes_train", "folds": 2, "seed": seed, **settings},
                "timings": {},
                "rows": rows,
            }
        )
    )
    return folder


def test_mean_std_per_score_and_a_winner_only_beyond_twice_the_spread(tmp_path, capsys):
    aps = {"ours": (0.80, 0.82, 0.78), "cleanlab": (0.40, 0.45, 0.35)}
    runs = [
        write_run(
            tmp_path / f"s{seed}",
            seed,
            [
                row("ours", "self_confidence", aps["ours"][seed]),
                row("ours", "gmm", 0.2),
                row("cleanlab", "swap", aps["cleanlab"][seed]),
                row("ours", "mask_iou", 0.5 + 0.3 * seed, issue="bad mask"),
                row("cleanlab", "badloc", 0.6, issue="bad mask"),
                row("ours", "confident_learning", None, issue="bad mask"),
            ],
        )
        for seed in range(3)
    ]
    output = tmp_path / "report.md"
    assert over_seeds.main([*map(str, runs), "--output", str(output)]) == 0
    text = output.read_text()
    assert (
        "| sym40 | class flip | ours | self_confidence | 0 1 2 | 10 / 100 | 0.500 +- 0.000 | 0.800 +- 0.020 |" in text
    )
    assert (
        "sym40, class flip: ours self_confidence AP 0.800 +- 0.020 vs cleanlab swap AP 0.400 +- 0.050 "
        "(gap +0.400): ours higher beyond twice the spread over seeds"
    ) in text
    assert "ours AP above chance (0.100)" in text
    # 0.8 +- 0.3 against 0.6: the gap is inside twice the spread; a decision (no AP) has no mean
    assert (
        "sym40, bad mask: ours mask_iou AP 0.800 +- 0.300 vs cleanlab badloc AP 0.600 +- 0.000 (gap +0.200): "
        "neither ahead beyond twice the spread over seeds" in text
    )
    assert "| confident_learning | 0 1 2 | 10 / 100 | 0.500 +- 0.000 | - |" in text
    assert f"wrote {output}" in capsys.readouterr().out


def test_cleanlab_run_twice_stays_two_rows_and_seed_dependent_notes_do_not_split_a_score(tmp_path):
    runs = [
        write_run(
            tmp_path / f"s{seed}",
            seed,
            [
                row(
                    "cleanlab",
                    "swap",
                    0.3,
                    note="cleanlab defaults" + ("; every score equal: no ranking" if seed else ""),
                ),
                row("cleanlab", "swap", 0.4 + 0.01 * seed, note="high_probability_threshold 0.5"),
                row(
                    "ours", "1 - detection score", 0.9, note=f"{150 + seed} of 256 dropped annotations have a detection"
                ),
            ],
        )
        for seed in range(2)
    ]
    summary = over_seeds.summarize(over_seeds.load_runs([str(run) for run in runs]))
    assert [(r["score"], r["seeds"]) for r in summary] == [
        ("swap (cleanlab defaults)", [0, 1]),
        ("swap (high_probability_threshold 0.5)", [0, 1]),
        ("1 - detection score", [0, 1]),
    ]
    assert "cleanlab swap (high_probability_threshold 0.5) AP 0.405 +- 0.007" in over_seeds.verdicts(summary)[0]


def test_the_report_says_how_good_the_models_behind_the_scores_were(tmp_path):
    runs = []
    for seed, (ap0, ap1, miou) in enumerate([(14.0, 16.0, 70.0), (15.0, 15.0, 72.0)]):
        run = write_run(tmp_path / f"s{seed}", seed, [row("ours", "gmm", 0.5)])
        for fold, ap in enumerate((ap0, ap1)):
            model = run / "instance" / "sym40" / "folds" / f"fold{fold}" / "model"
            model.mkdir(parents=True)
            (model / "metrics.json").write_text(
                json.dumps({"iteration": 99, "total_loss": 1.0})
                + "\n"
                + json.dumps({"iteration": 499, "segm/AP": ap, "bbox/AP": ap})
                + "\n"
            )
        (run / "semantic" / "sembg20" / "model").mkdir(parents=True)
        (run / "semantic" / "sembg20" / "model" / "metrics.json").write_text(
            json.dumps({"iteration": 499, "sem_seg/mIoU": miou}) + "\n"
        )
        runs.append(str(run))
    assert over_seeds.model_quality(runs) == [
        "- sym40: fold models' mask AP 15.0 +- 0.8 over 4 models (14.0, 16.0, 15.0, 15.0)",
        "- sembg20: model's mIoU 71.0 +- 1.4 over 2 models (70.0, 72.0)",
    ]


def test_a_score_below_chance_is_said_so(tmp_path):
    runs = [
        write_run(
            tmp_path / f"s{seed}",
            seed,
            [row("ours", "self_confidence", 0.05 + 0.01 * seed, errors=30), row("cleanlab", "swap", 0.3, errors=30)],
        )
        for seed in range(2)
    ]
    summary = over_seeds.summarize(over_seeds.load_runs([str(run) for run in runs]))
    lines = over_seeds.verdicts(summary)
    assert "ours AP below chance (0.300)" in lines[0] and "cleanlab AP not beyond 2 std from chance" in lines[0]
    assert "cleanlab higher beyond twice the spread" in lines[0]


def test_semantic_proposals_are_judged_by_the_seed_pr_auc_over_the_same_error_regions(tmp_path):
    runs = []
    for seed in range(3):
        ours = row("ours", "P(true positive)", 0.8, setting="sembg20", issue="dropped component")
        theirs = row("cleanlab", "flagged pixels", 0.9, setting="sembg20", issue="dropped component")
        ours["pr_auc"], theirs["pr_auc"] = 0.70 + 0.01 * seed, 0.50 + 0.01 * seed
        runs.append(write_run(tmp_path / f"s{seed}", seed, [ours, theirs]))
    summary = over_seeds.summarize(over_seeds.load_runs([str(run) for run in runs]))
    assert summary[0]["pr_auc"] == pytest.approx((0.71, 0.01))
    assert (
        "ours P(true positive) PR-AUC 0.710 +- 0.010 vs cleanlab flagged pixels PR-AUC 0.510 +- 0.010 "
        "(gap +0.200): ours higher beyond twice the spread"
    ) in over_seeds.verdicts(summary)[0]


def test_one_seed_gives_no_verdict(tmp_path):
    run = write_run(tmp_path / "s0", 0, [row("ours", "self_confidence", 0.9), row("cleanlab", "swap", 0.1)])
    lines = over_seeds.verdicts(over_seeds.summarize(over_seeds.load_runs([str(run)])))
    assert "no verdict (fewer than two seeds)" in lines[0] and "(one seed)" in lines[0]


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "evidence.json does not exist"),
        ("not json", "cannot be read as json"),
        ("not evidence", "is not an evidence.json of benchmarks/label_error_evidence.py"),
        ("a row without its keys", "is not an evidence.json"),
        ("output is a folder", "is a folder: give the report's file path"),
        ("output under a file", "is a file, not a folder"),
        ("same seed", "the runs repeat a seed"),
        ("other settings", "differs from"),
        ("report exists", "exists: pass --overwrite"),
    ],
)
def test_bad_input_is_one_line_and_nothing_is_overwritten(tmp_path, capsys, case, message):
    first = write_run(tmp_path / "s0", 0, [row("ours", "gmm", 0.5)])
    second = tmp_path / "s1"
    if case == "same seed":
        write_run(second, 0, [row("ours", "gmm", 0.5)])
    elif case == "other settings":
        write_run(second, 1, [row("ours", "gmm", 0.5)], folds=4)
    else:
        write_run(second, 1, [row("ours", "gmm", 0.5)])
    if case == "missing":
        second = tmp_path / "nowhere"
    elif case == "not json":
        (second / "evidence.json").write_text("{not json")
    elif case == "not evidence":
        (second / "evidence.json").write_text(json.dumps({"rows": []}))
    elif case == "a row without its keys":
        (second / "evidence.json").write_text(json.dumps({"settings": {"seed": 1}, "rows": [{"setting": "sym40"}]}))
    output = tmp_path / "report.md"
    if case == "output is a folder":
        output.mkdir()
    elif case == "output under a file":
        output = first / "evidence.json" / "report.md"
    if case == "report exists":
        output.write_text("kept")
    with pytest.raises(SystemExit) as exit_info:
        over_seeds.main([str(first), str(second), "--output", str(output)])
    assert str(exit_info.value).startswith("error: ") and message in str(exit_info.value)
    assert "\n" not in str(exit_info.value)
    if case == "report exists":
        assert output.read_text() == "kept"
    elif case != "output is a folder":
        assert not output.exists()
