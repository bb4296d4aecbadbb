"""Sphinx configuration: the docs site (``make docs``; Read the Docs runs the same).

The pages are Markdown (MyST). Django is configured with a minimal in-memory project so
autodoc can import the models, the admin and the REST API. Nothing is fetched at build
time (no intersphinx): the build works offline and fails on any warning in CI.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django
from django.conf import settings
from docutils import nodes
from pygments.lexers.shell import BashLexer
from sphinx import addnodes
from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

settings.configure(
    INSTALLED_APPS=[
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "rest_framework",
        "django_bw_notifications",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    USE_TZ=True,
)
django.setup()

from django_bw_notifications import __version__  # noqa: E402

project = "django-bw-notifications"
author = "django-bw-notifications developers"
copyright = "django-bw-notifications developers"
release = __version__
version = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True}

# Every reference must resolve; exempt are names outside this package (Django, DRF, the
# standard library, httpx: resolving them needs intersphinx and the network), private
# names, and the docstring references listed below until the code is mended.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(django|rest_framework|httpx|prometheus_client|collections|typing|datetime|pathlib|enum)\..*",
    ),
    (r"py:.*", r"(xml|time|ipaddress|logging|email|json|re|argparse|contextlib)\..*"),
    (r"py:.*", r"(Any|Self|Callable|Iterator|Iterable|Mapping|Sequence|Generator|Path)"),
    (r"py:.*", r"(.*\.)?_\w+"),  # private names (type aliases, the view's response class)
    # Sphinx cannot split `tuple[X, ...]` in an attribute's type (parsing.ParsedNotification).
    (r"py:class", r"tuple\[.*"),
]


def _repository_files_as_downloads(app: Sphinx, doctree: nodes.document) -> None:
    """A page's link to a repository file outside docs/ (``../bench/README.md``) works on
    GitHub; here MyST takes it for a missing page. Make it a download of that file."""
    srcdir = Path(app.srcdir).resolve()
    for node in list(doctree.findall(addnodes.pending_xref)):
        if node.get("reftype") != "myst" or node.get("refdomain") != "doc":
            continue
        target = Path(node["reftarget"] + ".md")
        if not target.is_absolute() or srcdir in target.resolve().parents:
            continue
        here = Path(app.env.doc2path(app.env.docname)).parent
        download = addnodes.download_reference(
            "",
            "",
            *node.children,
            refdoc=app.env.docname,
            reftarget=os.path.relpath(target, here),
            refexplicit=True,
        )
        node.replace_self(download)


def setup(app: Sphinx) -> None:
    # Before Sphinx's own collector, which copies the files downloads point at.
    app.connect("doctree-read", _repository_files_as_downloads, priority=400)
    app.add_lexer("cron", BashLexer)  # crontab lines in ```cron fences


html_theme = "furo"
html_title = f"django-bw-notifications {release}"
html_static_path: list[str] = []
