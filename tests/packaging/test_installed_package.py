"""A real, non-editable `pip install` of noisy_seg, used from outside the repository: the configs ship inside the
package, generated data goes to the user cache (never into site-packages), and `pip uninstall` leaves nothing."""

import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest


# What the build reads: a fresh clone's setup.py, the package and the config trees its model_zoo links point to.
SOURCES = ("setup.py", "README.md", "noisy_seg", "configs", "projects")

# Run by the fresh interpreter from a folder outside the repository.
CHECKS = textwrap.dedent("""
    import importlib.util, os, sys
    from pathlib import Path

    site = Path(sys.argv[1]).resolve()
    import noisy_seg
    assert Path(noisy_seg.__file__).resolve().is_relative_to(site), f"not the fresh install: {noisy_seg.__file__}"

    from noisy_seg.model_zoo import get_config, get_config_file
    assert Path(get_config_file("toy/mask_rcnn_R18_FPN_ce.py")).resolve().is_relative_to(site)
    assert "model" in get_config("toy/mask_rcnn_R18_FPN_ce.py")
    # a project config: its load_rel("../../../../configs/toy/...") must resolve inside the installed package
    assert "model" in get_config("projects/NoisySemanticLabels/configs/toy/semantic_R18_FPN_ce.py")
    assert "model" in get_config("projects/NoisyClassLabels/configs/toy/combination_switch.py")
    assert Path(get_config_file("toy/yacs/mask_rcnn_R18_FPN_ce.yaml")).resolve().is_relative_to(site)

    # every tool is a command of the installed package (no tools/ folder in an install)
    from noisy_seg import cli
    assert Path(cli.__file__).resolve().is_relative_to(site) and cli.main(["--help"]) == 0
    import noisy_seg.cli.train_net, noisy_seg.cli.make_noisy_dataset  # importable, as `python -m` runs them

    from noisy_seg.engine import load_lazy_config
    from noisy_seg.engine.grid import read_grid_file
    assert "train" in load_lazy_config("toy/semantic_R18_FPN_ce.py", ["train.max_iter=2"])
    assert read_grid_file("demo")[1] == "demo"

    from noisy_seg.data.datasets.builtin import prepare_toy_dataset, toy_data_root
    data = Path(os.environ["NOISY_SEG_DATASETS"])
    assert toy_data_root() == data / "toy_shapes"
    prepare_toy_dataset(num_train=2, num_val=1, image_size=64)
    assert (data / "toy_shapes" / "MANIFEST.json").is_file()

    spec = importlib.util.find_spec("datasets")  # HuggingFace's name: nothing of ours may shadow it
    assert spec is None or not any(Path(p).resolve().is_relative_to(site) for p in spec.submodule_search_locations
                                   or [spec.origin]), spec
    print("checks passed")
""")


def _pip(*args, cwd):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_a_pip_install_runs_from_anywhere_and_writes_nothing_into_site_packages(repo_root, tmp_path):
    source = tmp_path / "source"  # a copy, so that the build writes no build/ or egg-info into the checkout
    source.mkdir()
    for name in SOURCES:
        if (repo_root / name).is_dir():  # symlinks=True: noisy_seg/model_zoo's links keep pointing into the copy
            shutil.copytree(
                repo_root / name,
                source / name,
                symlinks=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
            )
        else:
            shutil.copy2(repo_root / name, source / name)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True, timeout=120)
    python = tmp_path / "venv" / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # Built by this environment's pip and setuptools (no network) straight into the fresh venv's site-packages:
    # --target never looks at, nor uninstalls from, this environment (where noisy_seg is an editable install).
    _pip("install", "--no-deps", "--no-index", "--no-build-isolation", "--target", str(site), str(source), cwd=tmp_path)
    assert (site / "noisy_seg" / "model_zoo" / "configs" / "toy" / "mask_rcnn_R18_FPN_ce.py").is_file()
    assert "noisy_seg.cli" in (site / "bin" / "noisy-seg").read_text()  # the console entry point

    # The heavy dependencies (torch, detectron2, ...) come from this environment, after the fresh site-packages.
    dependencies = site / "zz_dependencies.pth"
    dependencies.write_text(sysconfig.get_paths()["purelib"] + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "NOISY_SEG_DATASETS": str(tmp_path / "data")}
    result = subprocess.run(
        [str(python), "-c", CHECKS, str(site)], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and "checks passed" in result.stdout, result.stderr[-4000:]
    assert not (site / "datasets").exists() and not list(site.glob("noisy_seg/**/MANIFEST.json"))

    dependencies.unlink()  # so that pip, run by the fresh interpreter, can only see the fresh install
    _pip("--python", str(python), "uninstall", "--yes", "noisy_seg", cwd=tmp_path)
    assert not (site / "noisy_seg").exists(), sorted(str(p) for p in (site / "noisy_seg").rglob("*"))[:20]
