# noisy_seg: two commands from a fresh clone.
#   make demo   - create .venv if missing, install everything, train + evaluate on the built-in data
#   make test   - create .venv if missing, install everything, run the test suite
# Both are idempotent: once installed, the install step is skipped in well under a second.

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
# CPU-only machines: these two work together (PyPI's CUDA builds run on CPU).
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
STAMP  := $(VENV)/.noisy_seg-installed
PYTEST_ARGS ?= -q
# the suite in 2 processes (pytest-xdist), a test file per process at a time (its module fixtures train once): the
# tests are mostly single-threaded Python, so 2 cores run two of them; tests/conftest.py gives each 1 torch thread
TEST_WORKERS ?= 2
XDIST  := -n $(TEST_WORKERS) --dist loadfile

.PHONY: install demo test test-fast pretrain bench-robust bench-semantic bench-masks pseudo-labels-toy label-correction-toy label-errors-toy bench clean-data

$(VPY):
	$(PYTHON) -m venv $(VENV)

# Re-run the install only when what it depends on changed.
$(STAMP): setup.py tools/install_detectron2.py Makefile | $(VPY)
	$(VPY) -m pip install -q --disable-pip-version-check "setuptools<81" wheel
	$(VPY) -m pip install -q --disable-pip-version-check $(TORCH_PINS)
	$(VPY) -m pip install -q --disable-pip-version-check --no-build-isolation -e ".[dev]"
	$(VPY) tools/install_detectron2.py
	@touch $(STAMP)

install: $(STAMP)

# the linter and the formatter's check first (ruff.toml), then the whole suite (CI: .ci/run)
test: install
	$(VPY) -m ruff check --quiet .
	$(VPY) -m ruff format --check --quiet .
	$(VPY) -m pytest $(PYTEST_ARGS) $(XDIST) tests

# the edit loop: the same without the slow tier (tests marked slow in tests/conftest.py), under 3 min on 2 cores
test-fast: install
	$(VPY) -m ruff check --quiet .
	$(VPY) -m ruff format --check --quiet .
	$(VPY) -m pytest $(PYTEST_ARGS) $(XDIST) -m "not slow" tests

# the toy recipes' pretrained backbone (shipped as noisy_seg://backbones/R18_tiny_corpus.pth), made again from its
# manifest's command into output/pretrain/ (~15 min on 2 cores); compare its sha256 with the shipped one's
pretrain: install
	$(VPY) tools/pretrain_backbone.py --output output/pretrain/R18_tiny_corpus.pth

# the core claim on the toy data: clean CE, noisy CE, noisy combination loss (configs/grids/demo.yaml; 3 seeded toy
# runs at once, one CPU thread each: 6.9 min on 2 cores where one after another took 10.7 min in the same session)
demo: install
	$(VPY) tools/run_grid.py --grid demo --jobs 3

# clean CE; CE / SCE / GCE / NCE+RCE / Yang et al.'s combination loss under the paper's Sym 40; CE vs the
# combination loss under Sym 80, Asym 40 and COCO-N medium; 3 seeds each (configs/grids/robust.yaml; 36 toy runs,
# ~100 min on 2 cores)
bench-robust: install
	$(VPY) tools/run_grid.py --grid robust

# the NoisyMasks project's mask losses vs BCE at clean, COCO-N easy / medium / hard and maskboundary2, and Noisy
# Boundaries' ablations; 3 seeds (configs/grids/noisy_masks.yaml; 138 toy runs, two at a time: 4.5-9 min per pair on
# 2 cores, about 7 hours), then the Boundary AP and mask memorization table (output/grids/noisy_masks/mask_metrics.md)
bench-masks: install
	$(VPY) tools/run_grid.py --grid noisy_masks --jobs 2
	$(VPY) benchmarks/grid_mask_metrics.py output/grids/noisy_masks

# the NoisySemanticLabels project's losses on the toy label maps under semrelabel40 and boundary5, clean CE;
# 3 seeds (configs/grids/semantic.yaml; 33 toy runs, about 140 min on 2 cores: 2.5-3.2 min each, boundary5 4.7-6.5 min)
bench-semantic: install
	$(VPY) tools/run_grid.py --grid semantic

# projects/PseudoLabels on the toy label maps: CE on the strong 10%, class-aware CE stage 1, multi-scale x flip
# pseudo labels of the weak 90%, CE stage 2, and the all-labels ceiling; 3 seeds (15 runs, 32 min on 2 cores)
pseudo-labels-toy: install
	$(VPY) tools/run_pseudo_label_recipe.py

# projects/PseudoLabels' instance label correction on the toy set under sym40: CE stage 1, the combination loss,
# correction on the GT boxes, CE stage 2; 3 seeds (9 runs, 26 min on 2 cores)
label-correction-toy: install
	$(VPY) tools/run_pseudo_label_recipe.py --task instance

# label errors on the toy data, ours vs cleanlab on the same predictions, seeds 0 1 2 (noisy copies, fold splits):
# sym40 / coco_n_medium / drop20 instance copies scored out of sample (2-fold), semantic dropped / relabelled
# components; the toy recipes' own schedules (500 / 1000 iterations); per seed evidence.md + pr_curves.png in
# output/label_errors/seed<N>, over the seeds output/label_errors/over_seeds.md (mean +- std, the verdicts);
# 8 trainings per seed, ~25 min per seed on 2 cores; numbers and caveats: projects/LabelErrors/README.md
LABEL_ERROR_SEEDS := 0 1 2
label-errors-toy: install
	for seed in $(LABEL_ERROR_SEEDS); do \
		$(VPY) benchmarks/label_error_evidence.py --seed $$seed --output output/label_errors/seed$$seed --overwrite \
			|| exit 1; done
	$(VPY) benchmarks/label_error_over_seeds.py $(foreach seed,$(LABEL_ERROR_SEEDS),output/label_errors/seed$(seed)) \
		--output output/label_errors/over_seeds.md --overwrite

# speed benchmarks (ratios against the stock detectron2 path, measured in one run)
bench: install
	$(VPY) benchmarks/bench_mapper.py
	$(VPY) benchmarks/bench_roi_heads.py
	$(VPY) benchmarks/bench_losses.py
	$(VPY) benchmarks/bench_sem_seg_heads.py

# the generated toy sets, in $NOISY_SEG_DATASETS, else ${XDG_CACHE_HOME:-~/.cache}/noisy_seg/datasets
# (noisy_seg/data/datasets/data_dir.py); only folders with a toy-set manifest: that folder may hold other data
clean-data: install
	$(VPY) -c "import shutil; from noisy_seg.data.datasets.data_dir import generated_data_dir; \
	from noisy_seg.data.datasets.toy_shapes import read_manifest; \
	sets = [p for p in sorted(generated_data_dir().glob('toy_shapes*')) if read_manifest(p) is not None]; \
	[shutil.rmtree(p) for p in sets]; print('removed:', *sets or ['nothing'])"
