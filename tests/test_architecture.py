"""The layers of ARCHITECTURE.md, enforced: what each package of noisy_seg may import."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "noisy_seg"

# package -> the noisy_seg packages it may import, and whether torch / detectron2 are allowed: exactly what each
# imports today, so a new dependency between layers is a decision (this table and ARCHITECTURE.md), not an accident
LAYERS = {
    "utils": ((), False, False),
    "noise": (("utils",), False, False),
    "losses": ((), True, False),
    "data": (("noise", "utils"), True, True),
    "modeling": (("losses", "utils"), True, True),
    "evaluation": (("utils",), False, True),
    "config": (("modeling", "noise"), False, True),
    "model_zoo": (("utils",), False, True),
    "engine": (("data", "modeling", "config", "evaluation", "model_zoo", "utils"), True, True),
    "label_errors": (("utils",), False, False),
    # a trained model over a dataset: the strict loader (engine's checkpointer), the test loader, the predictions
    "inference": (("engine", "modeling", "noise", "utils"), True, True),
    "pseudo_labels": (("inference", "data", "modeling", "evaluation", "label_errors", "noise", "utils"), True, True),
    # the tools (`noisy-seg <command>`): argument parsing and calls into the layers below
    "cli": (
        ("pseudo_labels", "inference", "engine", "data", "evaluation", "label_errors", "noise", "utils"),
        True,
        True,
    ),
}


def imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of everything a module imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    parts = ["noisy_seg", *path.relative_to(PACKAGE).with_suffix("").parts]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level]
                names.add(".".join(base + ([node.module] if node.module else [])))
            else:
                names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_each_layer_imports_only_what_it_may(package):
    allowed, torch_ok, detectron2_ok = LAYERS[package]
    bad = []
    for path in sorted((PACKAGE / package).rglob("*.py")):
        for name in imported_modules(path, package):
            top, _, rest = name.partition(".")
            if top == "noisy_seg":
                target = rest.split(".")[0]
                if target and target != package and target not in allowed:
                    bad.append(f"{path.relative_to(PACKAGE)} imports {name}")
            elif (top == "torch" and not torch_ok) or (top == "detectron2" and not detectron2_ok):
                bad.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not bad, "layer violations (see ARCHITECTURE.md): " + "; ".join(bad)


def test_every_package_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(LAYERS)


def script_imports(folder: Path) -> dict[Path, set[str]]:
    """Each script of `folder` and the modules it imports (absolute names)."""
    imports = {}
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imports[path] = names | {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    return imports


def imports_of_each_other(imports: dict[Path, set[str]]) -> list[str]:
    scripts = {path.stem for path in imports}
    return [
        f"{path.name} imports {name}"
        for path, names in imports.items()
        for name in names
        if name.split(".")[0] in scripts
    ]


def test_the_scripts_in_tools_import_the_package_not_each_other():
    """tools/*.py are the package's commands as scripts (noisy_seg/cli): each imports noisy_seg, never another
    script (the installer excepted: it runs before noisy_seg can be imported)."""
    imports = script_imports(PACKAGE.parent / "tools")
    bad = imports_of_each_other(imports)
    for path, names in imports.items():
        if path.stem != "install_detectron2" and not any(name.startswith("noisy_seg.cli.") for name in names):
            bad.append(f"{path.name} does not call a command of noisy_seg.cli")
    assert not bad, "; ".join(bad)


def test_the_benchmarks_import_the_package_not_each_other():
    """benchmarks/*.py are scripts: what two of them share lives in noisy_seg (engine/benchmarking.py: the timing
    scheme; utils/memory.py; label_errors.semantic.evaluate_proposals), never in another script or on a sys.path
    edit."""
    imports = script_imports(PACKAGE.parent / "benchmarks")
    bad = imports_of_each_other(imports)
    bad += [f"{path.name} edits sys.path" for path in imports if "sys.path" in path.read_text()]
    assert not bad, "; ".join(bad)
