"""docs/losses.md's "## Loss options" table says what the loss registry does: every registered loss has a row, its
logits kind, which options must be given and every default with its value; the recipe values it quotes for sce
and gce are the ones the project configs set. So the table cannot drift from the code."""

import ast
import re
from pathlib import Path

import pytest

from noisy_seg.losses import (
    CLASSIFICATION,
    CLASSIFICATION_OR_DENSE,
    DENSE,
    MASK,
    available_losses,
    build_loss,
    loss_spec,
)
from noisy_seg.losses.registry import REQUIRED

REPO = Path(__file__).resolve().parents[2]
DOC = "docs/losses.md"
HEADING = "## Loss options"
GENERIC = ("reduction", "ignore_index")  # stated once in the text above the table, checked below
KINDS = {"both": CLASSIFICATION_OR_DENSE, "dense": DENSE, "classification": CLASSIFICATION, "mask": MASK}


def table_rows():
    """{loss: {column: cell}} of the first table under HEADING."""
    lines = (REPO / DOC).read_text().splitlines()
    assert HEADING in lines, f"{DOC} has no {HEADING!r} heading"
    rows, header = {}, None
    for line in lines[lines.index(HEADING) + 1 :]:
        if line.startswith("#"):
            break
        if not line.startswith("|"):
            if header:
                break
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set("".join(cells)) <= set("-: "):
            name = re.fullmatch(r"`(\w+)`", cells[0])
            assert name, f"the first cell of a row must be a `loss name`, got {cells[0]!r}"
            rows[name[1]] = dict(zip(header, cells))
    return rows


def code_items(cell: str):
    return re.findall(r"`([^`]*)`", cell)


def test_every_registered_loss_has_one_row():
    assert sorted(table_rows()) == available_losses()


@pytest.mark.parametrize("name", available_losses())
def test_the_row_matches_the_registry(name):
    row, spec = table_rows()[name], loss_spec(name)
    kind, *needs = [word.strip() for word in row["logits"].split(",")]
    assert KINDS[kind] == spec.kind
    assert ("image tags" in needs) == spec.needs_image_tags
    assert ("RoI sizes" in needs) == spec.needs_roi_sizes
    options = {key: value for key, value in spec.defaults.items() if key not in GENERIC}
    assert set(code_items(row["must be given"])) == {key for key, value in options.items() if value is REQUIRED}
    documented = {}
    for item in code_items(row["defaults"]):
        key, _, value = item.partition("=")
        documented[key] = ast.literal_eval(value)
    assert documented == {key: value for key, value in options.items() if value is not REQUIRED}


def test_the_generic_options_are_as_the_text_says():
    for name in available_losses():
        defaults = loss_spec(name).defaults
        assert defaults.get("reduction", "mean") == "mean"
        assert defaults.get("ignore_index", 255) == 255


@pytest.mark.parametrize(
    "name,config,key",
    [
        ("sce", "projects/NoisyClassLabels/configs/toy/mask_rcnn_R18_FPN_sce.py", "cls_loss_kwargs"),
        ("sce", "projects/NoisySemanticLabels/configs/toy/semantic_R18_FPN_sce.py", "loss_kwargs"),
        ("gce", "projects/NoisyClassLabels/configs/toy/mask_rcnn_R18_FPN_gce.py", "cls_loss_kwargs"),
        ("gce", "projects/NoisySemanticLabels/configs/toy/semantic_R18_FPN_gce.py", "loss_kwargs"),
    ],
)
def test_the_quoted_recipe_values_are_the_configs(name, config, key):
    options = re.search(rf"\.{key} = dict\(([^)]*)\)", (REPO / config).read_text())[1]
    assert options in code_items(table_rows()[name]["values the recipes here use"])
    call = ast.parse(f"dict({options})", mode="eval").body
    build_loss(name, **{keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords})  # complete
