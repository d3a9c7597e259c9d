"""Packaged configs by name (noisy_seg.model_zoo) and the command-line rule: a path that exists wins, else a name."""

import runpy
from pathlib import Path

import pytest

from noisy_seg.engine import load_lazy_config, resolve_config_file
from noisy_seg.engine.grid import GRID_FOLDER, read_grid_file
from noisy_seg.model_zoo import ZOO_ROOT, config_names, get_config, get_config_file
from noisy_seg.utils.errors import UserInputError


def test_the_package_ships_every_config_of_the_repository(repo_root):
    configs = repo_root / "configs"
    in_repo = sorted(
        p.relative_to(configs).as_posix()
        for p in [*configs.rglob("*.py"), *configs.rglob("*.yaml")]
        if p.parent.name != "grids"
    )
    in_repo += sorted(p.relative_to(repo_root).as_posix() for p in repo_root.glob("projects/*/configs/**/*.py"))
    assert config_names() == in_repo
    for name in config_names():
        assert (
            Path(get_config_file(name)).resolve()
            == (repo_root / ("" if name.startswith("projects/") else "configs") / name).resolve()
        )


def test_a_name_loads_its_lazy_config_and_a_project_config_resolves_its_load_rel():
    assert {"model", "train", "dataloader"} <= set(get_config("toy/mask_rcnn_R18_FPN_ce.py"))
    project = get_config("projects/NoisySemanticLabels/configs/toy/semantic_R18_FPN_ce.py")
    assert project.train.output_dir == "output/NoisySemanticLabels/toy/ce"  # its own line on top of the base


def test_the_repository_spelling_names_the_same_file():
    assert get_config_file("configs/toy/mask_rcnn_R18_FPN_ce.py") == get_config_file("toy/mask_rcnn_R18_FPN_ce.py")
    assert get_config_file("toy/mask_rcnn_R18_FPN_ce.py") == str(ZOO_ROOT / "configs/toy/mask_rcnn_R18_FPN_ce.py")


@pytest.mark.parametrize(
    "name, message",
    [
        (
            "toy/mask_rcnn_R18_FPN.py",
            r"no packaged config is named 'toy/mask_rcnn_R18_FPN.py' \(did you mean "
            r"'toy/mask_rcnn_R18_FPN_ce.py'\?\); `python -m noisy_seg.model_zoo` lists the names",
        ),
        ("../setup.py", r"must name a file inside the packaged configs"),
        ("/etc/passwd", r"must name a file inside the packaged configs"),
        ("", r"must name a file inside the packaged configs"),
        ("toy", r"no packaged config is named 'toy'"),
    ],
)
def test_a_bad_name_is_one_line_that_says_how_to_list_the_names(name, message):
    with pytest.raises(UserInputError, match=message) as error:
        get_config_file(name)
    assert "\n" not in str(error.value)


def test_a_grid_file_is_packaged_but_is_no_lazy_config():
    assert get_config_file("grids/demo.yaml") == str(GRID_FOLDER / "demo.yaml")
    assert read_grid_file("demo")[1] == "demo"
    with pytest.raises(UserInputError, match="'grids/demo.yaml' is not a LazyConfig .py file"):
        get_config("grids/demo.yaml")


def test_a_path_that_exists_wins_over_a_packaged_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy/mask_rcnn_R18_FPN_ce.py").write_text("model = dict(here=True)\n")
    assert resolve_config_file("toy/mask_rcnn_R18_FPN_ce.py") == "toy/mask_rcnn_R18_FPN_ce.py"
    assert load_lazy_config("toy/mask_rcnn_R18_FPN_ce.py", []).model.here is True
    # any other name is looked up in the package, whatever the working directory
    assert resolve_config_file("toy/semantic_R18_FPN_ce.py") == get_config_file("toy/semantic_R18_FPN_ce.py")
    assert load_lazy_config("toy/semantic_R18_FPN_ce.py", ["train.max_iter=7"]).train.max_iter == 7


def test_the_command_line_error_names_both_lookups(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        UserInputError,
        match=r"^config file 'configs/nope.py' not found, and no packaged config is "
        r"named 'configs/nope.py'.*`python -m noisy_seg.model_zoo`",
    ):
        load_lazy_config("configs/nope.py", [])


def test_python_m_noisy_seg_model_zoo_lists_the_names(capsys):
    runpy.run_module("noisy_seg.model_zoo", run_name="__main__")
    assert capsys.readouterr().out.split() == config_names()
