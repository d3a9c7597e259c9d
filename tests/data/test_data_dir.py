"""Where generated data goes: $NOISY_SEG_DATASETS, else ${XDG_CACHE_HOME:-~/.cache}/noisy_seg/datasets."""

from pathlib import Path

import pytest

import noisy_seg
from noisy_seg.data.datasets.builtin import custom_toy_folder, toy_data_root
from noisy_seg.data.datasets.data_dir import generated_data_dir


@pytest.fixture
def clean_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("NOISY_SEG_DATASETS", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_the_default_is_the_user_cache_never_the_package_or_the_repository(clean_environment):
    assert generated_data_dir() == clean_environment / "home/.cache/noisy_seg/datasets"
    assert not generated_data_dir().is_relative_to(Path(noisy_seg.__file__).parents[1])


def test_xdg_cache_home_moves_the_cache_but_a_relative_one_is_ignored(clean_environment, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(clean_environment / "xdg"))
    assert generated_data_dir() == clean_environment / "xdg/noisy_seg/datasets"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # invalid per the XDG spec
    assert generated_data_dir() == clean_environment / "home/.cache/noisy_seg/datasets"


def test_noisy_seg_datasets_wins_and_the_toy_folders_follow(clean_environment, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(clean_environment / "xdg"))
    monkeypatch.setenv("NOISY_SEG_DATASETS", str(clean_environment / "mine"))
    assert generated_data_dir() == clean_environment / "mine"
    assert toy_data_root() == clean_environment / "mine/toy_shapes"
    assert custom_toy_folder(1, 6, 2, 64) == clean_environment / "mine/toy_shapes_seed1_train6_val2_size64"
    monkeypatch.setenv("NOISY_SEG_DATASETS", "")  # set but empty: as if unset
    assert generated_data_dir() == clean_environment / "xdg/noisy_seg/datasets"
