import contextlib
import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


# The slow tier: `make test` runs every test, `make test-fast` (the edit loop, under 3 min on 2 cores) skips these.
# A test is slow when it carries @pytest.mark.slow (each one measured at 1 s or more with --durations: it trains a
# model, starts a tool's process, or builds a model from scratch) or uses one of these fixtures, which train a model
# once for a module: a fast test that shares one would pay for the training when the slow ones are left out.
SLOW_FIXTURES = {"toy_run", "trained", "short_run"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES.intersection(item.fixturenames):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session", autouse=True)
def _quiet_threads():
    # 2-core machines: keep torch from oversubscribing when tests run model code; under pytest-xdist the cores are
    # shared by the worker processes
    import torch

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    torch.set_num_threads(max(1, min(2, (os.cpu_count() or 1) // workers)))
    yield


@pytest.fixture
def run_in_process():
    """run(entry, argv) -> (returncode, stdout, stderr) of a tool's entry point (`main` or train_net's `cli`) called in
    this process as its script calls it (`tool_exit_status`: status 2 after one `error:` line on stderr): a refusal
    checked without the seconds a new process spends importing torch and detectron2. Its streams are StringIOs that
    stay open (not capsys's, which close after the test while detectron2's cached loggers keep writing to them)."""
    import contextlib
    import io
    from types import SimpleNamespace

    from noisy_seg.utils.errors import tool_exit_status

    def run(entry, argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = tool_exit_status(lambda: entry([str(item) for item in argv]))
            except SystemExit as exit_:  # argparse's own exits
                code = exit_.code
        return SimpleNamespace(returncode=code or 0, stdout=out.getvalue(), stderr=err.getvalue())

    return run


@pytest.fixture(scope="session")
def tiny_toy(tmp_path_factory):
    """A tiny toy-shapes data set registered as toy_tiny_{train,val} (and its Cityscapes views)."""
    from noisy_seg.data.datasets.builtin import prepare_toy_dataset, register_toy_datasets

    root = tmp_path_factory.mktemp("toy_tiny")
    settings = dict(num_train=16, num_val=4, image_size=96)
    register_toy_datasets(root, prefix="toy_tiny", **settings)
    return prepare_toy_dataset(root, **settings)  # on disk now, for tests that read the files


# the toy Mask R-CNN's tiny training behind toy_run; score threshold 0: a 6-iteration model must still produce
# detections to evaluate
TOY_RUN_DATA = [
    "dataloader.train.dataset.names=toy_tiny_train",
    "dataloader.test.dataset.names=toy_tiny_val",
    "model.roi_heads.box_predictor.test_score_thresh=0.0",
    "dataloader.train.num_workers=0",
]


@pytest.fixture(scope="session")
def toy_run(repo_root, tiny_toy, tmp_path_factory):
    """The one trained toy checkpoint of the suite: configs/toy/mask_rcnn_R18_FPN_ce.py for 6 iterations on the tiny
    toy set (TOY_RUN_DATA), a checkpoint every 2 (model_0000001, 3, 5 and model_final), metrics every iteration,
    evaluated at the end. Read-only: a test that resumes or edits it copies the folder first."""
    from noisy_seg.cli import train_net

    out = tmp_path_factory.mktemp("toy_run")
    argv = ["--config-file", str(repo_root / "configs/toy/mask_rcnn_R18_FPN_ce.py"), *TOY_RUN_DATA]
    argv += [f"train.output_dir={out}", "train.max_iter=6", "train.eval_period=6", "train.checkpointer.period=2"]
    train_net.main(train_net.default_argument_parser().parse_args([*argv, "train.log_period=1"]))
    return out


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory, repo_root):
    """save(config, name, seed=0, **changes) -> the path of random-init (torch seed `seed`) weights of `config`'s model
    with `changes` (dotted keys of cfg.model, e.g. {"sem_seg_head.num_classes": 8}) applied: checkpoints for tool
    tests."""
    import torch

    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.config import LazyConfig, instantiate

    folder = tmp_path_factory.mktemp("random_weights")

    def save(config: str, name: str, seed: int = 0, **changes) -> str:
        cfg = LazyConfig.load(str(repo_root / config))
        for key, value in changes.items():
            LazyConfig.apply_overrides(cfg, [f"model.{key}={value}"])
        torch.manual_seed(seed)
        DetectionCheckpointer(instantiate(cfg.model), str(folder)).save(name)
        return str(folder / f"{name}.pth")

    return save


@pytest.fixture
def small_disk(tmp_path):
    """mount(size) -> a folder on a tmpfs of `size` (e.g. "16k"), a disk that fills up; resize(size) frees space.
    Skips the test where mounting is not permitted (it needs root)."""
    import subprocess

    folder = tmp_path / "small_disk"
    folder.mkdir()
    mounted = []

    class SmallDisk:
        def mount(self, size: str) -> Path:
            result = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
            )
            if result.returncode != 0:
                pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip() or result.returncode}")
            mounted.append(folder)
            return folder

        def resize(self, size: str) -> None:
            subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)

    yield SmallDisk()
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def writer_in_another_process():
    """start(target) -> (process, temp file): another process writing `target` through atomic_output, stopped
    after the first bytes (its temp file exists, the target does not); kill it (SIGKILL) to leave the temp file
    behind, as a kill mid-write does. Processes still running at the end are killed."""
    import signal
    import subprocess

    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from noisy_seg.utils.files import atomic_output\n"
        "with atomic_output(sys.argv[1], suffix=Path(sys.argv[1]).suffix) as temp:\n"
        "    temp.write_bytes(bytes(1 << 16))\n"
        "    print(temp, flush=True)\n"
        "    time.sleep(600)\n"
    )
    processes = []

    def start(target):
        process = subprocess.Popen(
            [sys.executable, "-c", script, str(target)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
        )
        processes.append(process)
        temp = Path(process.stdout.readline().strip())
        assert temp.name and temp.is_file() and not Path(target).exists(), "the writer did not start"
        return process, temp

    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()


# The host-sync sentinel (no GPU here): the operations that force a device-to-host sync on CUDA (.item(), .tolist(),
# bool()/int()/float() of a tensor, nonzero, bincount, unique, masked_select, boolean-mask indexing) raise inside it.
_SYNCING_METHODS = ("item", "tolist", "__bool__", "__int__", "__float__", "nonzero", "unique", "masked_select", "numpy")
_SYNCING_FUNCTIONS = ("nonzero", "bincount", "unique", "masked_select")


@contextlib.contextmanager
def _forbidden_host_syncs():
    """Make the operations that would wait for the GPU raise."""
    import torch

    saved_methods = {name: getattr(torch.Tensor, name) for name in _SYNCING_METHODS}
    saved_functions = {name: getattr(torch, name) for name in _SYNCING_FUNCTIONS}
    saved_getitem = torch.Tensor.__getitem__

    def forbidden(name):
        def call(*args, **kwargs):
            raise AssertionError(f"host sync: {name}")

        return call

    def getitem(self, index):
        parts = index if isinstance(index, tuple) else (index,)
        if any(isinstance(p, torch.Tensor) and p.dtype == torch.bool and p.dim() > 0 for p in parts):
            raise AssertionError("host sync: boolean-mask indexing")
        return saved_getitem(self, index)

    try:
        for name in _SYNCING_METHODS:
            setattr(torch.Tensor, name, forbidden(f"Tensor.{name}"))
        for name in _SYNCING_FUNCTIONS:
            setattr(torch, name, forbidden(f"torch.{name}"))
        torch.Tensor.__getitem__ = getitem
        yield
    finally:
        for name, method in saved_methods.items():
            setattr(torch.Tensor, name, method)
        for name, function in saved_functions.items():
            setattr(torch, name, function)
        torch.Tensor.__getitem__ = saved_getitem


@pytest.fixture
def forbid_host_syncs():
    """A context manager in which host syncs raise (see above): `with forbid_host_syncs(): step()`."""
    return _forbidden_host_syncs
