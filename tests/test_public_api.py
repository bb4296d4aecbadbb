"""The documented public API exists and is documented, so the docs cannot drift.

The docs are the README (the landing page) and the site's Markdown pages in ``docs/``:
each reference page is checked against the code it describes (settings against
``conf``, check ids against ``checks``, signals, commands, models, URL names).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from django.dispatch import Signal

import django_bw_notifications
from django_bw_notifications import signals
from django_bw_notifications.conf import Settings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = {path.stem: path for path in sorted((ROOT / "docs").glob("*.md"))}
DOC_TEXT = "\n".join(path.read_text() for path in [README, *PAGES.values()])

PUBLIC_MODULES = [
    "django_bw_notifications.parsing",
    "django_bw_notifications.intake.ingest",
    "django_bw_notifications.dispatch.receivers",
    "django_bw_notifications.signals",
    "django_bw_notifications.testing",
    "django_bw_notifications.views",
]

SETTINGS = sorted(name for name, value in vars(Settings).items() if isinstance(value, property))


def _page(name: str) -> str:
    return PAGES[name].read_text()


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


def _table_rows(text: str, first_cell: str) -> list[list[str]]:
    """The cells of every Markdown table row whose first cell matches ``first_cell``."""
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(first_cell, cells[0]):
            rows.append(cells)
    return rows


DOTTED = sorted(set(re.findall(r"django_bw_notifications(?:\.[A-Za-z_]\w*)+", DOC_TEXT)))
# `signals.portins_complete`, not a link to signals.md.
FRIENDLY = sorted(set(re.findall(r"(?<![/(\w])signals\.([a-z][a-z0-9_]+)\b", DOC_TEXT)))


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


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_the_api_reference_includes_every_public_module(module_name: str) -> None:
    assert f".. automodule:: {module_name}\n" in _page("reference")


# Settings: one section per setting, and a table with its type and default.


def test_every_setting_read_has_its_section_and_no_other() -> None:
    documented = re.findall(r"^## `BW_NOTIFICATIONS_(\w+)`$", _page("settings"), flags=re.M)
    assert sorted(documented) == SETTINGS


def _settings_table() -> dict[str, tuple[str, str]]:
    rows = _table_rows(_page("settings"), r"\[`BW_NOTIFICATIONS_\w+`\]\(#bw_notifications_\w+\)")
    table = {}
    for name_cell, kind, default in rows:
        name = re.search(r"`BW_NOTIFICATIONS_(\w+)`", name_cell)
        assert name
        assert name_cell.endswith(f"(#bw_notifications_{name[1].lower()})"), name_cell
        table[name[1]] = (kind, default.strip("`"))
    return table


def test_the_settings_table_lists_every_setting_with_a_type() -> None:
    table = _settings_table()
    assert sorted(table) == SETTINGS
    assert all(kind for kind, _ in table.values())


def _comparable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_comparable(item) for item in value)
    if isinstance(value, Path):
        return str(value)
    return value


@pytest.mark.parametrize("name", SETTINGS)
def test_the_documented_default_is_the_one_the_code_uses(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Settings, "_get", lambda self, setting, default: default)
    documented = ast.literal_eval(_settings_table()[name][1])
    assert _comparable(getattr(Settings(), name)) == _comparable(documented)


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_section_gives_its_default_and_meaning(name: str) -> None:
    sections = re.split(r"^## ", _page("settings"), flags=re.M)
    (section,) = [text for text in sections if text.startswith(f"`BW_NOTIFICATIONS_{name}`")]
    body = section.split("\n", 1)[1]
    assert "default" in body
    assert len(body.split()) >= 8, "a sentence of meaning, not just a value"


# System checks: every id with its meaning and fix.


def _registered_check_ids() -> set[str]:
    from django_bw_notifications import checks

    source = inspect.getsource(checks)  # the imported module: the installed one under tox
    return set(re.findall(r'"(bw_notifications\.[EW]\d{3})"', source))


def test_the_checks_page_lists_every_check_with_meaning_and_fix() -> None:
    rows = _table_rows(_page("checks"), r"`bw_notifications\.[EW]\d{3}`( \(`--deploy`\))?")
    documented = {re.search(r"bw_notifications\.[EW]\d{3}", row[0])[0] for row in rows}  # type: ignore[index]
    assert documented == _registered_check_ids()
    assert len(rows) == len(documented), "one row per check id"
    assert all(len(row) == 3 and row[1] and row[2] for row in rows)


def test_every_check_id_mentioned_anywhere_exists() -> None:
    assert set(re.findall(r"bw_notifications\.[EW]\d{3}", DOC_TEXT)) <= _registered_check_ids()


# Signals, commands, models, URL names.


@pytest.mark.parametrize("name", signals.__all__)
def test_the_signals_page_names_every_public_signal_and_helper(name: str) -> None:
    assert f"`{name}" in _page("signals")


COMMANDS = sorted(
    # The imported package's (under tox, the installed one: the checkout has none).
    path.stem
    for path in (Path(django_bw_notifications.__file__).parent / "management" / "commands").glob(
        "bw_*.py"
    )
)


def test_there_are_commands_to_document() -> None:
    assert "bw_notifications_dispatch_pending" in COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_the_commands_page_names_every_command(command: str) -> None:
    assert f"`{command}" in _page("commands")


@pytest.mark.parametrize(
    "model_name", ["Notification", "TelephoneNumber", "DispatchAttempt", "RejectedDelivery"]
)
def test_the_models_page_names_every_field(model_name: str) -> None:
    from django_bw_notifications import models

    model = getattr(models, model_name)
    text = _page("models")
    assert re.search(rf"[`.]{model_name}`", text)
    fields = [
        field.name
        for field in model._meta.get_fields()
        if field.concrete and field.name not in {"id", "notification"}
    ]
    missing = [name for name in fields if f"`{name}`" not in text]
    assert not missing, f"{model_name} fields not on docs/models.md: {missing}"


def test_the_models_page_names_every_processing_state() -> None:
    from django_bw_notifications.models import ProcessingState

    text = _page("models")
    assert all(f"`{state.value}`" in text for state in ProcessingState)


def test_the_endpoint_url_names_are_documented() -> None:
    from django_bw_notifications import urls

    for pattern in urls.urlpatterns:
        assert f"`{urls.app_name}:{pattern.name}`" in DOC_TEXT


def test_the_rest_api_page_lists_every_url_name() -> None:
    from django_bw_notifications.api import urls

    sentence = re.search(r"`bw_notifications_api` namespace: (.*?)\.\n", _page("rest-api"), re.S)
    assert sentence
    assert urls.app_name == "bw_notifications_api"
    documented = set(re.findall(r"`([\w-]+)`", sentence[1]))
    # `schema` exists only with the `api` extra installed, as the page says.
    assert documented == {pattern.name for pattern in urls.urlpatterns} | {"schema"}


# The README is the landing page; links between the Markdown files work on GitHub.


def test_the_readme_is_a_landing_page() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    assert "make demo" in text
    assert "make test" in text
    assert "https://django-bw-notifications.readthedocs.io/" in text
    linked = set(re.findall(r"\]\(docs/([\w-]+)\.md[)#]", text))
    assert linked == set(PAGES) - {"index", "changelog"}, "the README links every page"


def _slug(heading: str) -> str:
    """The anchor GitHub (and MyST's ``myst_heading_anchors``) gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _repository_only(path: Path) -> bool:
    """A file of the repository's own tooling, left out of the sdist (``bench/``)."""
    return not (ROOT / "bench").is_dir() and path.is_relative_to(ROOT / "bench")


@pytest.mark.parametrize("source", [README, *PAGES.values()], ids=lambda path: path.name)
def test_relative_links_point_to_files_and_headings_that_exist(source: Path) -> None:
    text = re.sub(r"```.*?```", "", source.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (source.parent / path).resolve() if path else source
        if not linked.exists() and _repository_only(linked):
            continue  # run from an sdist's tree, which does not ship the benchmarks
        assert linked.exists(), f"{source.name}: {target}"
        if anchor and linked.suffix == ".md":
            headings = re.findall(
                r"^#+ (.*)$", re.sub(r"```.*?```", "", linked.read_text(), flags=re.S), re.M
            )
            assert anchor in {_slug(heading) for heading in headings}, f"{source.name}: {target}"


#: DESIGN.md §2 and the README: what host projects import, from where. The package's
#: layout may change below them (it did: intake/, dispatch/, bandwidth/); these may not.
CONTRACT = {
    "django_bw_notifications.views": ["WebhookView"],
    "django_bw_notifications.urls": ["app_name", "urlpatterns"],
    "django_bw_notifications.api.urls": ["app_name", "urlpatterns"],
    "django_bw_notifications.signals": [
        "notification_received",
        "note_added",
        "order_signal",
        "event_signal",
        "all_signals",
    ],
    "django_bw_notifications.models": [
        "Notification",
        "TelephoneNumber",
        "RejectedDelivery",
        "DispatchAttempt",
        "ProcessingState",
    ],
    "django_bw_notifications.testing": [
        "build_order_notification",
        "build_event_notification",
        "post_notification",
        "capture_signals",
        "dispatch_inline",
        "generate_numbers",
    ],
    "django_bw_notifications.pytest_plugin": [],
}


@pytest.mark.parametrize(("module_name", "names"), CONTRACT.items(), ids=list(CONTRACT))
def test_the_contract_imports_from_its_documented_paths(module_name: str, names: list[str]) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in names if not hasattr(module, name)]
    assert not missing, f"{module_name} lost {missing}"
    exported = getattr(module, "__all__", None)
    if exported is not None and module_name != "django_bw_notifications.models":
        assert set(names) <= set(exported) | {"app_name", "urlpatterns"}


def test_the_url_includes_give_their_documented_names() -> None:
    from django.urls import reverse

    assert reverse("bw_notifications:webhook")
    assert reverse("bw_notifications_api:notification-list")


CRON_LINES = sorted(
    {
        line.split(None, 5)[5]
        for block in re.findall(r"^```cron\n(.*?)^```", DOC_TEXT, re.MULTILINE | re.DOTALL)
        for line in block.splitlines()
        if line.strip() and not line.startswith("#")
    }
)


def test_the_docs_show_cron_lines() -> None:
    assert any("bw_notifications_health" in line for line in CRON_LINES)


@pytest.mark.parametrize("line", CRON_LINES)
def test_every_cron_line_runs_a_command_whose_options_parse(line: str) -> None:
    import shlex

    from django.core.management import get_commands, load_command_class

    words = shlex.split(line)
    # Through the wrapper that gives the job the server's directory and environment.
    assert words[0] == "/srv/app/bin/manage", line
    name, *arguments = words[1:]
    command = load_command_class(get_commands()[name], name)
    command.create_parser("manage.py", name).parse_args(arguments)  # exits on a bad option
