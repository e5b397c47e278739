"""The import contracts of pyproject.toml ([tool.importlinter], run by `make imports`, the first step
of `make test`) hold on the library, and they can fail: an upward import or a cycle added to a copy of
the library breaks them. The copy lives in a temporary folder; nothing tracked is touched."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from attrec_lib.settings import paths

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """lint-imports with the repository's contracts, on the library found first under ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(paths.REPO_ROOT / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def library_copy(tmp_path: Path) -> Path:
    shutil.copytree(paths.REPO_ROOT / "attrec_lib", tmp_path / "attrec_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def add_line(module: Path, after: str, line: str) -> None:
    text = module.read_text()
    assert after in text, (module, after)
    module.write_text(text.replace(after, after + "\n" + line, 1))


def test_the_contracts_hold_on_the_library(library_copy):
    res = lint_imports(library_copy)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout


def test_an_upward_import_breaks_the_layers_contract(library_copy):
    add_line(library_copy / "attrec_lib" / "data" / "registry.py", "from .synthetic import planted_sequences",
             "from attrec_lib.report import plotting")
    res = lint_imports(library_copy)
    assert res.returncode != 0
    assert "layers import downward only BROKEN" in res.stdout
    assert "attrec_lib.data.registry -> attrec_lib.report.plotting" in res.stdout


def with_function_import(library_copy, module: str, statement: str):
    """lint-imports on the copy after ``statement`` was added inside a new function of ``module``."""
    path = library_copy / "attrec_lib" / module
    path.write_text(path.read_text() + f"\n\ndef _added():\n    {statement}  # noqa: F401\n")
    return lint_imports(library_copy)


def test_an_upward_import_inside_a_function_is_seen_too(library_copy):
    res = with_function_import(library_copy, "training/evaluate.py", "from ..runs import store")
    assert res.returncode != 0
    assert "attrec_lib.training.evaluate -> attrec_lib.runs.store" in res.stdout


def test_a_cycle_inside_a_package_breaks_the_acyclic_contract(library_copy):
    res = with_function_import(library_copy, "data/registry.py", "from . import preprocess")
    assert res.returncode != 0
    assert "no import cycles between the modules of any package BROKEN" in res.stdout
    assert "layers import downward only KEPT" in res.stdout  # a cycle within one layer is not an upward import


def test_make_test_checks_the_contracts_first():
    makefile = (paths.REPO_ROOT / "Makefile").read_text()
    assert "\ntest: imports unit nbval " in makefile
    assert "lint-imports --no-cache" in makefile
