"""The package's layers import one way: the top-level helpers <- the maths and the datasets (independent of
each other) <- runs <- report <- the command line; the baselines, like any plugin, never are imported by
the maths. Read from the source (every import statement, also inside functions)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "vhp_core"
RANK = {"registry": 0, "plugins": 0, "io": 0, "devices": 0, "maths": 1, "datasets": 1,
        "baselines": 2, "configs": 0, "runs": 3, "report": 4, "cli": 5, "__main__": 5}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m.split(".")[0] in ("vhp_core", "baselines")}


def sources() -> dict[str, Path]:
    files = {f"vhp_core.{p.relative_to(PACKAGE).with_suffix('').as_posix().replace('/', '.')}": p
             for p in PACKAGE.rglob("*.py")}
    files |= {f"vhp_core.baselines.{p.stem}": p for p in (ROOT / "baselines").glob("*.py")}
    return files


def test_every_module_belongs_to_a_layer():
    assert {layer(m) for m in sources()} - {"__init__"} <= set(RANK)


def upward_imports(module: str, path: Path) -> list[str]:
    """The imports of `module` (read from `path`) that reach a later layer, or the baselines."""
    here = layer(module)
    return [f"{module} imports {target}" for target in sorted(imports(path))
            if target.startswith("baselines") or (here != "__init__" and layer(target) != "__init__"
                                                  and RANK[layer(target)] > RANK[here])]


def test_layers_import_one_way():
    assert not [wrong for module, path in sources().items() for wrong in upward_imports(module, path)]


def test_the_maths_and_the_datasets_do_not_know_each_other():
    for module, path in sources().items():
        if layer(module) in ("maths", "datasets"):
            other = {"maths", "datasets"} - {layer(module)}
            assert not {layer(t) for t in imports(path)} & other, module


def test_the_check_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\n\n\ndef f():\n    from vhp_core.report.tables import table1\n"
                   "    from vhp_core.maths import priors\n")
    assert upward_imports("vhp_core.maths.bad", bad) == ["vhp_core.maths.bad imports vhp_core.report.tables.table1"]
    assert upward_imports("vhp_core.report.bad", bad) == []
