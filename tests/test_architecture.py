"""The architecture holds: layers (Import Linter's contracts in pyproject.toml) and no import cycles.

Each check also runs on a copy of the package with one wrong import added, so
a broken rule is shown to fail, not only a kept one to pass.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    """Runs Import Linter on the project folder `project` (its pyproject.toml, its headsynth/)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(project / "pyproject.toml"), "--no-cache"],
        cwd=project,
        env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def import_cycles(package: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "import_cycles.py"), str(package)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project_copy(tmp_path):
    """A copy of headsynth/ and pyproject.toml to break on purpose."""
    shutil.copytree(
        ROOT / "headsynth", tmp_path / "headsynth", ignore=shutil.ignore_patterns("*.npz", "*.so")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(module: Path, statement: str, inside_function: bool = False) -> None:
    text = module.read_text()
    if inside_function:
        statement = f"\n\ndef _late():\n    {statement}\n"
    module.write_text(text + "\n" + statement + "\n")


def test_the_layers_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_config_importing_a_component_breaks_the_layers(project_copy):
    add_import(
        project_copy / "headsynth" / "config" / "schema.py",
        "from headsynth.components.rendering import scenarios  # noqa",
        inside_function=True,
    )
    result = lint_imports(project_copy)
    assert result.returncode == 1, result.stdout
    assert "headsynth.config.schema -> headsynth.components.rendering.scenarios" in result.stdout


def test_an_earlier_step_importing_a_later_one_breaks_the_layers(project_copy):
    add_import(
        project_copy / "headsynth" / "components" / "rendering" / "backgrounds.py",
        "import headsynth.components.training.settings  # noqa",
    )
    result = lint_imports(project_copy)
    assert result.returncode == 1, result.stdout
    assert "pipeline steps" in result.stdout


def test_there_are_no_import_cycles():
    result = import_cycles(ROOT / "headsynth")
    assert result.returncode == 0, result.stdout
    assert result.stdout.rstrip().endswith("0 import cycles")


def test_a_cycle_through_an_import_inside_a_function_is_found(project_copy):
    add_import(
        project_copy / "headsynth" / "core" / "errors.py",
        "from headsynth.core import io_utils  # noqa",
        inside_function=True,
    )
    add_import(project_copy / "headsynth" / "core" / "io_utils.py", "import headsynth.core.errors  # noqa")
    result = import_cycles(project_copy / "headsynth")
    assert result.returncode == 1
    assert (
        "cycle of 2 modules: headsynth.core.errors -> headsynth.core.io_utils -> headsynth.core.errors"
        in (result.stdout)
    )


def test_functions_and_modules_stay_short():
    import ast

    long_functions, long_modules = [], []
    for path in sorted((ROOT / "headsynth").rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 500:
            long_modules.append(f"{path.relative_to(ROOT)} ({len(text.splitlines())} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > 80:
                    long_functions.append(
                        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)"
                    )
    assert not long_functions, "functions over 80 lines: " + ", ".join(long_functions)
    assert not long_modules, "modules over 500 lines: " + ", ".join(long_modules)
