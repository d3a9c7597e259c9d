import base64
import csv
import hashlib
import importlib.util
import io
import zipfile
from pathlib import Path

import pytest

# tools/install_detectron2.py runs before noisy_seg is installed, so it is no command of noisy_seg.cli: loaded from
# its file (no sys.path edit)
_SPEC = importlib.util.spec_from_file_location(
    "install_detectron2", Path(__file__).resolve().parents[2] / "tools" / "install_detectron2.py"
)
inst = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(inst)


def test_route_order_present_then_upstream_then_fallback():
    assert inst.choose_route(importable=True, upstream_ok=True) == "present"
    assert inst.choose_route(importable=True, upstream_ok=False) == "present"
    assert inst.choose_route(importable=False, upstream_ok=True) == "upstream"
    assert inst.choose_route(importable=False, upstream_ok=False) == "fallback"


def _fake_sal_wheel(path):
    info = "sal_detectron2-0.7.2.dist-info/"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("detectron2/__init__.py", "__version__ = '0.6'\n")
        z.writestr("detectron2/_C.cpython-310-x86_64-linux-gnu.so", b"\x7fELF binary")
        z.writestr("tools/train_net.py", "print('detectron2 tools')\n")
        z.writestr(
            info + "METADATA",
            "Metadata-Version: 2.1\nName: sal-detectron2\nVersion: 0.7.2\n"
            "Requires-Dist: numpy<2\nRequires-Dist: yacs>=0.1.8\n",
        )
        z.writestr(info + "WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp310-cp310-linux_x86_64\n")
        z.writestr(info + "top_level.txt", "detectron2\ntools\n")
        z.writestr(info + "RECORD", "stale,,\n")


def test_repack_wheel_is_pure_python_detectron2(tmp_path):
    src = tmp_path / "sal_detectron2-0.7.2-cp310-none-any.whl"
    _fake_sal_wheel(src)
    out = inst.repack_wheel(src, tmp_path)
    assert out.name == "detectron2-0.7.2-py3-none-any.whl"
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        info = "detectron2-0.7.2.dist-info/"
        assert "detectron2/__init__.py" in names
        assert not any(n.startswith("tools/") for n in names), "detectron2's tools/ would shadow ours"
        assert not any("_C" in n and n.endswith(".so") for n in names)
        assert not any(n.startswith("sal_detectron2") for n in names)
        meta = z.read(info + "METADATA").decode()
        assert "Name: detectron2\n" in meta and "numpy<2" not in meta and "yacs>=0.1.8" in meta
        wheel = z.read(info + "WHEEL").decode()
        assert "Tag: py3-none-any" in wheel and "Root-Is-Purelib: true" in wheel
        assert z.read(info + "top_level.txt") == b"detectron2\n"
        rows = list(csv.reader(io.StringIO(z.read(info + "RECORD").decode())))
        recorded = {r[0]: r for r in rows}
        assert set(recorded) == names
        for name in names - {info + "RECORD"}:
            data = z.read(name)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert recorded[name][1:] == [f"sha256={digest}", str(len(data))]


def test_present_installs_nothing(monkeypatch, capsys):
    monkeypatch.setattr(inst, "detectron2_importable", lambda python: True)
    monkeypatch.setattr(inst, "github_reachable", lambda *a: pytest.fail("must not probe GitHub"))
    monkeypatch.setattr(inst, "install_fallback", lambda python: pytest.fail("must not install"))
    assert inst.main([]) == 0
    assert "route: present" in capsys.readouterr().out


def test_offline_goes_to_fallback(monkeypatch):
    calls = []
    state = {"installed": False}
    monkeypatch.setattr(inst, "detectron2_importable", lambda python: state["installed"])
    monkeypatch.setattr(inst, "github_reachable", lambda *a: False)
    monkeypatch.setattr(inst, "install_upstream", lambda python: pytest.fail("GitHub unreachable: no upstream build"))

    def fallback(python):
        calls.append(python)
        state["installed"] = True
        return True

    monkeypatch.setattr(inst, "install_fallback", fallback)
    assert inst.main(["--python", "py"]) == 0
    assert calls == ["py"]


def test_upstream_failure_falls_back_then_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(inst, "detectron2_importable", lambda python: False)
    monkeypatch.setattr(inst, "github_reachable", lambda *a: True)
    tried = []
    monkeypatch.setattr(inst, "install_upstream", lambda python: tried.append("upstream") or False)
    monkeypatch.setattr(inst, "install_fallback", lambda python: tried.append("fallback") or False)
    assert inst.main([]) == 1
    assert tried == ["upstream", "fallback"]
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "github.com/facebookresearch/detectron2" in err and "sal-detectron2==0.7.2" in err


def test_github_probe_fails_fast_offline():
    import time

    start = time.monotonic()
    reachable = inst.github_reachable(timeout_s=20)
    # on this project's machines GitHub is unreachable; either way the probe must be bounded
    assert time.monotonic() - start < 25
    assert isinstance(reachable, bool)
