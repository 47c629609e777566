"""The house's rules that import-linter cannot see (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("app", "web", "scheduler", "signaling", "media")
COMPOSITION_ROOT = {"app/main.py", "app/cli.py"}


def _late_project_imports(path: Path, root: Path = ROOT) -> list[str]:
    """Imports of project modules inside a function or class body."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import):
                names = [alias.name for alias in inner.names]
            elif isinstance(inner, ast.ImportFrom) and inner.level == 0 and inner.module:
                names = [inner.module]
            else:
                continue
            found += [
                f"{path.relative_to(root)}:{inner.lineno} {name}"
                for name in names
                if name.split(".")[0] in PROJECT
            ]
    return found


def test_no_late_import_of_a_project_module_outside_the_composition_root() -> None:
    late: list[str] = []
    for package in PROJECT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if str(path.relative_to(ROOT)) not in COMPOSITION_ROOT:
                late += _late_project_imports(path)
    assert late == [], "late imports hide import cycles:\n" + "\n".join(late)


def test_the_late_import_check_sees_a_late_import(tmp_path: Path) -> None:
    module = tmp_path / "app" / "probe.py"
    module.parent.mkdir()
    module.write_text(
        "import app.core\n\ndef f() -> None:\n    from app.core import clock\n    import os\n",
        encoding="utf-8",
    )
    assert _late_project_imports(module, tmp_path) == ["app/probe.py:4 app.core"]
