#!/usr/bin/env python
"""noisy_seg: a detectron2 extension for instance and semantic segmentation from noisy labels.

detectron2 itself is not on PyPI: `make install` (or `python tools/install_detectron2.py`) installs it.
"""

from setuptools import find_packages, setup

# detectron2's own runtime dependencies are listed too: its PyPI fallback is installed with --no-deps.
DETECTRON2_RUNTIME = [
    "Pillow>=7.1",
    "matplotlib",
    "termcolor>=1.1",
    "yacs>=0.1.8",
    "tabulate",
    "cloudpickle",
    "tensorboard",
    "fvcore>=0.1.5,<0.1.6",
    "iopath>=0.1.7,<0.1.10",
    "omegaconf>=2.1,<2.4",
    "hydra-core>=1.1",
    "black",
    "packaging",
    # detectron2.model_zoo imports pkg_resources, which setuptools>=81 dropped
    "setuptools<81",
]

setup(
    name="noisy_seg",
    version="0.1.0",
    license="Apache-2.0",
    description="Learning instance and semantic segmentation from noisy labels, on detectron2",
    python_requires=">=3.9",
    packages=find_packages(exclude=("tests", "tests.*", "configs", "tools", "projects")),
    # The LazyConfigs ship inside the package, as detectron2 ships detectron2/model_zoo/configs: noisy_seg/model_zoo/
    # links to the repository's configs/ and projects/, so an install holds the same tree (load_rel paths resolve).
    # and its pretrained weights, by name (noisy_seg://backbones/..., noisy_seg/model_zoo/weights.py)
    package_data={
        "noisy_seg.model_zoo": [
            "configs/**/*.py",
            "configs/**/*.yaml",
            "projects/*/configs/**/*.py",
            "weights/**/*.pth",
            "weights/**/*.json",
        ],
        # the review page of an instance audit (noisy_seg/pseudo_labels/review_page.py)
        "noisy_seg.pseudo_labels": ["review_assets/*.html", "review_assets/*.js"],
    },
    install_requires=[
        # torch.load defaults to weights_only=True from 2.6 on: loading a .pth runs no code
        "torch>=2.6",
        "torchvision>=0.21",
        # cityscapesscripts 2.3 calls np.in1d, which numpy 2.4 removed
        "numpy<2.4",
        "scipy",
        "opencv-python-headless",
        "pycocotools>=2.0.2",
        "cityscapesscripts>=2.2",
        "orjson",
        "shapely",  # detectron2's Cityscapes loader (from_json=True)
        "tqdm>4.29.0",
        "filelock",
        # noisy_seg.label_errors: cleanlab's scores and confident learning are called, not re-implemented (tested
        # with cleanlab 2.9.0); scikit-learn for the GMM, the meta classifier and the benchmark metrics
        "cleanlab>=2.0,<3",
        "scikit-learn>=1.0",
        *DETECTRON2_RUNTIME,
    ],
    # every tool as a command of the installed package: `noisy-seg train ...` (noisy_seg/cli)
    entry_points={"console_scripts": ["noisy-seg=noisy_seg.cli:main"]},
    # selenium drives Debian's chromium (+ chromium-driver) in the review page's browser test
    extras_require={"dev": ["pytest>=7", "pytest-xdist>=3.5", "hypothesis>=6", "ruff==0.17.6", "selenium>=4.10"]},
)
