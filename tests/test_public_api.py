"""The documented public API exists and is documented, so the docs cannot drift."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest
from django.dispatch import Signal

from django_bw_notifications import signals

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "docs" / "cookbook.md"]
DOC_TEXT = "\n".join(path.read_text() for path in DOCS)

PUBLIC_MODULES = [
    "django_bw_notifications.parsing",
    "django_bw_notifications.ingest",
    "django_bw_notifications.dispatch",
    "django_bw_notifications.signals",
    "django_bw_notifications.testing",
    "django_bw_notifications.views",
]


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return target
    raise ImportError(dotted)


DOTTED = sorted(set(re.findall(r"django_bw_notifications(?:\.[A-Za-z_]\w*)+", DOC_TEXT)))
FRIENDLY = sorted(set(re.findall(r"\bsignals\.([a-z][a-z0-9_]+)\b", DOC_TEXT)))


def test_docs_mention_public_names() -> None:
    assert len(DOTTED) > 10
    assert "portins_complete" in FRIENDLY


@pytest.mark.parametrize("dotted", DOTTED)
def test_every_dotted_name_in_the_docs_exists(dotted: str) -> None:
    _resolve(dotted)


@pytest.mark.parametrize("name", FRIENDLY)
def test_every_signal_name_in_the_docs_exists(name: str) -> None:
    assert hasattr(signals, name)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_names_are_documented(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__doc__
    for name in module.__all__:
        value = getattr(module, name)
        if isinstance(value, Signal):
            source = inspect.getsource(module)
            assert re.search(rf"#:.*\n(#:.*\n)*{name} = Signal\(\)", source), name
        elif inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), f"{module_name}.{name} has no docstring"


def test_documented_settings_are_the_ones_read() -> None:
    from django_bw_notifications.conf import Settings

    documented = set(re.findall(r"^### `BW_NOTIFICATIONS_(\w+)`", DOC_TEXT, flags=re.M))
    read = {name for name, value in vars(Settings).items() if isinstance(value, property)}
    assert documented == read


def test_documented_check_ids_are_the_ones_registered() -> None:
    from django_bw_notifications import checks

    source = inspect.getsource(checks)  # the imported module: the installed one under tox
    assert set(re.findall(r"bw_notifications\.[EW]\d{3}", DOC_TEXT)) == set(
        re.findall(r'"(bw_notifications\.[EW]\d{3})"', source)
    )
