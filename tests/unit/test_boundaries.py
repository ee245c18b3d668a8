"""Dependency direction (STYLE.md): the library never imports the web framework."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[2] / "anonymizer"
FORBIDDEN = ("fastapi", "starlette", "app")


def library_modules() -> list[str]:
    modules = ["anonymizer"]
    if importlib.util.find_spec("anonymizer.cli") is not None:
        modules.append("anonymizer.cli")
    return modules


def loaded_after_import(modules: list[str], tmp_path: Path) -> list[str]:
    """Import ``modules`` in a fresh interpreter; return the forbidden modules it loaded.

    Stand-in ``fastapi`` and ``starlette`` packages come first on the path, so an import is
    seen even where the real ones are not installed.
    """
    for name in ("fastapi", "starlette"):
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "__init__.py").write_text("", "utf-8")
    script = textwrap.dedent(
        f"""
        import importlib, json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        for name in {modules!r}:
            importlib.import_module(name)
        print(json.dumps(sorted(
            m for m in sys.modules if m.split(".")[0] in ("fastapi", "starlette")
        )))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    loaded: list[str] = json.loads(run.stdout.strip().splitlines()[-1])
    return loaded


def test_importing_the_library_loads_no_web_framework(tmp_path: Path) -> None:
    modules = library_modules()
    assert loaded_after_import(modules, tmp_path) == []


def test_the_check_sees_a_web_framework_import(tmp_path: Path) -> None:
    # control: the same check does report an import of the framework
    assert loaded_after_import(["json", "fastapi"], tmp_path) == ["fastapi"]


def imported_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "path", sorted(LIBRARY.rglob("*.py")), ids=lambda p: str(p.relative_to(LIBRARY))
)
def test_no_library_module_imports_the_app_or_the_framework(path: Path) -> None:
    # also catches imports that only run lazily, inside functions
    assert not imported_names(path) & set(FORBIDDEN)


def test_the_static_check_sees_a_lazy_import(tmp_path: Path) -> None:
    path = tmp_path / "lazy.py"
    path.write_text("def f():\n    from fastapi import FastAPI\n    return FastAPI\n", "utf-8")
    assert "fastapi" in imported_names(path)
