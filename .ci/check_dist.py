"""Check a built sdist and wheel beyond ``twine check``: ``python .ci/check_dist.py DIST``.

- Both carry the licence: ``LICENSE`` in the sdist and in the wheel's ``.dist-info/licenses``,
  ``License-Expression: MIT`` and ``License-File: LICENSE`` in both metadata files.
- The sdist holds every tracked file except the repository's own tooling (``.ci/``,
  ``bench/``, ``Makefile``, ``tox.ini``, the pre-commit, Read the Docs and typos
  configurations), and nothing untracked besides what setuptools
  writes (like check-manifest, against ``git ls-files``).
- The sdist's test tree runs against the wheel: the wheel is installed into this
  environment and a few tests run from the unpacked sdist's tree without its package
  (``tests/installed_tree.py``, as tox runs the suites).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Tracked but deliberately not in the sdist: the repository's own tooling.
NOT_SHIPPED = (
    ".ci/",
    "bench/",
    "Makefile",
    "tox.ini",
    ".gitignore",
    ".pre-commit-config.yaml",
    ".readthedocs.yaml",
    "_typos.toml",
)
#: In the sdist but not tracked: what setuptools writes.
GENERATED = ("PKG-INFO", "setup.cfg", "django_bw_notifications.egg-info/")
#: Run from the unpacked sdist: the payloads, the documents, the demo, the example project.
SAMPLE_TESTS = [
    ["tests/test_parsing.py", "tests/test_public_api.py", "tests/test_example_project.py"],
    ["example_project", "-k", "not browser"],
]


def check_metadata(text: str, where: str) -> None:
    metadata = Parser().parsestr(text)
    assert metadata["License-Expression"] == "MIT", where
    assert metadata.get_all("License-File") == ["LICENSE"], where


def check_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_info = next(name.split("/")[0] for name in names if ".dist-info/" in name)
        assert f"{dist_info}/licenses/LICENSE" in names, "no LICENSE in the wheel"
        assert not [name for name in names if name.startswith("tests/")], "tests in the wheel"
        check_metadata(archive.read(f"{dist_info}/METADATA").decode(), wheel.name)


def check_sdist(sdist: Path, unpack_to: Path) -> Path:
    with tarfile.open(sdist) as archive:
        archive.extractall(unpack_to, filter="data")
    (top,) = unpack_to.iterdir()
    check_metadata((top / "PKG-INFO").read_text(), sdist.name)
    assert (top / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    shipped = {str(path.relative_to(top)) for path in top.rglob("*") if path.is_file()}
    tracked = set(
        subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
    )
    missing = {name for name in tracked - shipped if not name.startswith(NOT_SHIPPED)}
    unexpected = {name for name in shipped - tracked if not name.startswith(GENERATED)}
    assert not missing, f"tracked but not in the sdist: {sorted(missing)}"
    assert not unexpected, f"in the sdist but not tracked: {sorted(unexpected)}"
    return top


def run_tests_from(top: Path, wheel: Path, workdir: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", str(wheel)], check=True)
    runner = top / "tests" / "installed_tree.py"
    for arguments in SAMPLE_TESTS:
        command = [sys.executable, str(runner), str(workdir / "tree"), "-q", *arguments]
        subprocess.run(command, cwd=top, check=True)


def main(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    check_wheel(wheel)
    with tempfile.TemporaryDirectory() as scratch:
        top = check_sdist(sdist, Path(scratch) / "sdist")
        run_tests_from(top, wheel, Path(scratch))
    print(f"{sdist.name} and {wheel.name}: licence, contents and tests from the sdist OK")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
