#!/usr/bin/env python
"""The label-error evidence over seeds: several runs of benchmarks/label_error_evidence.py that differ only in
--seed (the noisy copies, the fold split, the meta classifier), read from their evidence.json, as one table of
mean +- std per score and one verdict per setting and issue type over the seeds.

    for s in 0 1 2; do python benchmarks/label_error_evidence.py --seed $s --output output/label_errors/seed$s; done
    python benchmarks/label_error_over_seeds.py output/label_errors/seed0 output/label_errors/seed1 \\
        output/label_errors/seed2 --output output/label_errors/over_seeds.md

The verdict follows the grids' rule (noisy_seg/engine/grid_report.py): per setting and issue type, each side's best
score by mean average precision (semantic: by the seed's PR-AUC, over the same error regions for both methods,
where AP is over each method's own proposals); a side is called higher only where the gap of the means exceeds
twice the larger of the two standard deviations over seeds. Each score is also set against chance (AUROC 0.5; AP:
the error rate), and the report says how good the models behind the scores were (the fold models' val mask AP, the
semantic models' val mIoU).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from noisy_seg.utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported

from noisy_seg.engine.grid_report import beyond_twice_the_spread, mean_std
from noisy_seg.engine.metrics import final_metrics
from noisy_seg.utils.errors import UserInputError, tool_exit_status
from noisy_seg.utils.files import load_json, write_atomic

METRICS = ("auroc", "ap", "p10", "p100", "pr_auc")
HEADER = (
    "setting",
    "issue type",
    "method",
    "score",
    "seeds",
    "errors / n (mean)",
    "AUROC",
    "AP",
    "P@10",
    "P@100",
    "seed PR-AUC",
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="output folders of label_error_evidence.py, one per --seed")
    parser.add_argument("--output", default="output/label_errors/over_seeds.md", help="the markdown report")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report")
    return parser.parse_args(argv)


ROW_KEYS = {"setting", "issue", "method", "score", "n", "errors", "note"}


def _evidence(path: Path) -> dict:
    """One run's evidence.json, refused in one line where it is not what label_error_evidence.py writes."""
    try:
        evidence = load_json(path)
    except (OSError, ValueError) as err:
        raise UserInputError(
            f"{path} cannot be read as json ({err}): rerun label_error_evidence.py with --overwrite "
            f"in that folder to write it again"
        ) from None
    rows = evidence.get("rows") if isinstance(evidence, dict) else None
    settings = evidence.get("settings") if isinstance(evidence, dict) else None
    if (
        not isinstance(settings, dict)
        or "seed" not in settings
        or not isinstance(rows, list)
        or not all(isinstance(row, dict) and ROW_KEYS <= row.keys() for row in rows)
    ):
        raise UserInputError(
            f"{path} is not an evidence.json of benchmarks/label_error_evidence.py (it needs "
            f"settings with a seed, and rows with {', '.join(sorted(ROW_KEYS))})"
        )
    return evidence


def load_runs(folders: list[str]) -> list[dict]:
    """Each run's evidence.json; refuses a missing one, a repeated seed and runs whose settings differ beyond it."""
    runs = []
    for folder in folders:
        path = Path(folder) / "evidence.json"
        if not path.is_file():
            raise UserInputError(
                f"{path} does not exist: pass folders that benchmarks/label_error_evidence.py "
                f"finished (it writes evidence.json last)"
            )
        runs.append(_evidence(path))
    seeds = [run["settings"].get("seed") for run in runs]
    if len(set(seeds)) < len(seeds):
        raise UserInputError(f"the runs repeat a seed ({seeds}): pass one finished run per --seed")
    first = {k: v for k, v in runs[0]["settings"].items() if k != "seed"}
    for folder, run in zip(folders, runs):
        other = {k: v for k, v in run["settings"].items() if k != "seed"}
        if other != first:
            keys = sorted(k for k in first.keys() | other.keys() if first.get(k) != other.get(k))
            raise UserInputError(
                f"{folder} differs from {folders[0]} in {', '.join(keys)}: pass runs that differ only in --seed"
            )
    return runs


def _mean_std(values: list) -> tuple[float, float]:
    """mean_std over the values a run has (a decision row has no AP: None)."""
    return mean_std([v for v in values if v is not None and not math.isnan(v)])


def score_name(row: dict) -> str:
    """The score, with cleanlab's setting where the evidence ran it twice (its note: its defaults, or
    high_probability_threshold 0.5); other notes change with the seed and are not part of the name."""
    variant = row["note"].split(";")[0]
    if row["method"] == "cleanlab" and variant.startswith(("cleanlab defaults", "high_probability_threshold")):
        return f"{row['score']} ({variant})"
    return row["score"]


def summarize(runs: list[dict]) -> list[dict]:
    """One row per (setting, issue, method, score), in the first run's order: the seeds, and mean / std of each
    metric and of the error rate (errors / n, what a random ranking's AP is)."""
    grouped = defaultdict(list)
    for run in runs:
        for row in run["rows"]:
            key = (row["setting"], row["issue"], row["method"], score_name(row))
            grouped[key].append((run["settings"]["seed"], row))
    summary = []
    for (setting, issue, method, score), members in grouped.items():
        rows = [row for _, row in members]
        out = {
            "setting": setting,
            "issue": issue,
            "method": method,
            "score": score,
            "seeds": [seed for seed, _ in members],
            "error_rate": _mean_std([row["errors"] / row["n"] if row["n"] else None for row in rows]),
            "errors": statistics.fmean(row["errors"] for row in rows),
            "n": statistics.fmean(row["n"] for row in rows),
        }
        for metric in METRICS:
            out[metric] = _mean_std([row.get(metric) for row in rows])
        summary.append(out)
    return summary


def model_quality(folders: list[str]) -> list[str]:
    """How good the models behind the scores were, per setting over seeds (and folds): the instance fold models'
    val mask AP (instance/<noise>/folds/fold*/model) and the semantic models' val mIoU (semantic/<noise>/model)."""
    values = defaultdict(list)
    for folder in map(Path, folders):
        for model in sorted(folder.glob("instance/*/folds/fold*/model")):
            values[(model.parents[2].name, "fold models' mask AP")].append(final_metrics(model).get("segm/AP"))
        for model in sorted(folder.glob("semantic/*/model")):
            values[(model.parent.name, "model's mIoU")].append(final_metrics(model).get("sem_seg/mIoU"))
    lines = []
    for (setting, what), found in values.items():
        measured = [v for v in found if v is not None]
        models = f"{len(measured)} model" + ("s" if len(measured) != 1 else "")
        lines.append(
            f"- {setting}: {what} {_fmt(_mean_std(measured), 1)} over {models} "
            f"({', '.join(f'{v:.1f}' for v in measured)})"
        )
    return lines


def verdicts(summary: list[dict]) -> list[str]:
    """Per setting and issue type: each side's best score by mean AP (semantic: by the seed's PR-AUC), the gap, and
    who is higher over the seeds; and whether each is above chance (its AP above the error rate beyond twice its
    std)."""
    panels = defaultdict(list)
    for row in summary:
        panels[(row["setting"], row["issue"])].append(row)
    lines = []
    for (setting, issue), group in panels.items():
        # semantic proposals are each method's own, so their AP is over different items; the seed's PR-AUC is over
        # the same error regions for both: it judges there
        metric = "pr_auc" if any(not math.isnan(row["pr_auc"][0]) for row in group) else "ap"
        best = {}
        for method in ("ours", "cleanlab"):
            ranked = [row for row in group if row["method"] == method and not math.isnan(row[metric][0])]
            if ranked:
                best[method] = max(ranked, key=lambda row: row[metric][0])
        if len(best) < 2:
            continue
        ours, theirs = best["ours"], best["cleanlab"]
        gap = ours[metric][0] - theirs[metric][0]
        name = "PR-AUC" if metric == "pr_auc" else "AP"
        beyond = beyond_twice_the_spread(gap, (ours[metric][1], theirs[metric][1]))
        if beyond is None:
            verdict = "no verdict (fewer than two seeds)"
        elif beyond:
            verdict = ("ours" if gap > 0 else "cleanlab") + " higher beyond twice the spread over seeds"
        else:
            verdict = "neither ahead beyond twice the spread over seeds"
        chance = "; ".join(f"{row['method']} {_above_chance(row)}" for row in (ours, theirs))
        lines.append(
            f"- {setting}, {issue}: ours {ours['score']} {name} {_fmt(ours[metric])} vs cleanlab "
            f"{theirs['score']} {name} {_fmt(theirs[metric])} (gap {gap:+.3f}): {verdict}; {chance}"
        )
    return lines


def _above_chance(row: dict) -> str:
    """AP against the error rate, the AP of a random ranking."""
    mean, std = row["ap"]
    rate = row["error_rate"][0]
    if math.isnan(std):
        return f"AP {mean:.3f} vs chance {rate:.3f} (one seed)"
    side = "above" if mean - rate > 2 * std else ("below" if rate - mean > 2 * std else "not beyond 2 std from")
    return f"AP {side} chance ({rate:.3f})"


def _fmt(pair: tuple[float, float], digits: int = 3) -> str:
    mean, std = pair
    if math.isnan(mean):
        return "-"
    return f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} +- {std:.{digits}f}"


def markdown(summary: list[dict], verdict_lines: list[str], folders: list[str], quality: list[str]) -> str:
    lines = [
        "# Label-error evidence over seeds",
        "",
        "Runs: " + ", ".join(f"`{folder}`" for folder in folders),
        "",
        "The models behind the scores (val, at the end of their training):",
        *quality,
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    for row in summary:
        cells = [
            row["setting"],
            row["issue"],
            row["method"],
            row["score"],
            " ".join(map(str, row["seeds"])),
            f"{row['errors']:.0f} / {row['n']:.0f}",
            *(_fmt(row[metric]) for metric in METRICS),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Who ranks the errors better over the seeds (each side's best score by mean AP, semantic by the "
        "seed's PR-AUC; higher only where the gap exceeds twice the larger std), and each AP against chance:",
        *verdict_lines,
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        output = Path(args.output)
        if output.is_dir():
            raise UserInputError(
                f"--output {output} is a folder: give the report's file path, e.g. {output}/over_seeds.md"
            )
        blocking = next((parent for parent in output.parents if parent.exists() and not parent.is_dir()), None)
        if blocking is not None:
            raise UserInputError(f"--output {output}: {blocking} is a file, not a folder; give another path")
        if output.exists() and not args.overwrite:
            raise UserInputError(f"{output} exists: pass --overwrite to replace it, or another --output")
        runs = load_runs(args.runs)
        summary = summarize(runs)
        verdict_lines = verdicts(summary)
        text = markdown(summary, verdict_lines, args.runs, model_quality(args.runs))
        output.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(output, text)
    except UserInputError as err:
        raise SystemExit("error: " + " ".join(str(err).split())) from None
    print(text)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(tool_exit_status(main))
