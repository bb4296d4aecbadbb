"""Run pytest against the installed package, from a copy of the test tree without it.

``python tests/installed_tree.py DESTINATION [PYTEST ARGUMENTS]``: copies what the suites
read (not ``django_bw_notifications/``) to ``DESTINATION``, replacing it, and runs
``python -m pytest`` there with ``BW_TEST_INSTALLED_PACKAGE=1``. From a checkout or an
unpacked sdist, pytest's rootdir and ``pythonpath = ["."]`` would put the source package
first on ``sys.path``; in the copy only site-packages can provide it, and tests/conftest.py
fails the run otherwise. Arguments naming files of this tree (``tests/test_api.py::test_x``)
are pointed at the copy. tox runs the suites this way; so can a distribution's packager.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: What the suites read besides the package: pytest's configuration (pyproject.toml),
#: the documents test_public_api and the cookbook test check, the tests, the example.
TREE = [
    "pyproject.toml",
    "README.md",
    "CHANGELOG.md",
    "LICENSE",
    "docs",
    "tests",
    "example_project",
]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.sqlite3*")


def copy_test_tree(destination: Path) -> None:
    """Replace ``destination`` with a copy of this tree's tests and what they read."""
    shutil.rmtree(destination, ignore_errors=True)
    destination.mkdir(parents=True)
    for name in TREE:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, destination / name, ignore=IGNORE)
        else:
            shutil.copy2(ROOT / name, destination / name)


def in_copy(argument: str, destination: Path) -> str:
    """``argument``, pointed at the copy if it names a file or directory of this tree."""
    path, separator, node = argument.partition("::")
    if argument.startswith("-") or not Path(path).exists():
        return argument
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(ROOT):
        return argument
    return f"{destination / resolved.relative_to(ROOT)}{separator}{node}"


def main(destination: Path, arguments: list[str]) -> int:
    destination = destination.resolve()
    copy_test_tree(destination)
    command = [sys.executable, "-m", "pytest", *(in_copy(arg, destination) for arg in arguments)]
    env = {**os.environ, "BW_TEST_INSTALLED_PACKAGE": "1"}
    return subprocess.run(command, cwd=destination, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2:]))
