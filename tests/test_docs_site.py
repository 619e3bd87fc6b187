"""The README and the documentation site: the front door stays short, its links lead somewhere, CI runs its test
command, and the generated configuration reference covers every built-in plugin (what `mkdocs build --strict` in
`make lint` renders; these checks run without building the site)."""

from __future__ import annotations

import re
import sys

import pytest

from conftest import REPO_ROOT
from textcluster import registry

LINK = re.compile(r"\]\(([^)\s]+)\)")
GENERATED = ("reference/configuration.md", "results/")  # pages docs/hooks/generated_pages.py writes at build time


def _relative_links(path):
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if not re.match(r"^[a-z]+:|^#", target):
            yield target.split("#", 1)[0]


def test_readme_is_a_front_door():
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250
    quickstart = "\n".join(lines[lines.index("## Quickstart") :])
    assert "make test" in quickstart and "make demo" in quickstart


def test_ci_runs_the_readme_test_command():
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "make test" in [line.strip() for line in ci if not line.startswith("#")]


@pytest.mark.parametrize(
    "page", ["README.md", *sorted(p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "docs").glob("*.md"))]
)
def test_relative_links_lead_to_files(page):
    path = REPO_ROOT / page
    generated = lambda target: path.parent == REPO_ROOT / "docs" and target.startswith(GENERATED)
    missing = [
        target for target in _relative_links(path) if not (path.parent / target).exists() and not generated(target)
    ]
    assert not missing, f"{page} links to files that do not exist: {missing}"


def _hook():
    sys.path.insert(0, str(REPO_ROOT / "docs" / "hooks"))
    try:
        import generated_pages
    finally:
        sys.path.remove(str(REPO_ROOT / "docs" / "hooks"))
    return generated_pages


def test_api_reference_documents_only_objects_with_docstrings():
    hook = _hook()
    page = (REPO_ROOT / "docs" / hook.API_PAGE).read_text(encoding="utf-8")
    assert "textcluster.api.Pipeline.fit" in hook.documented_objects(page)
    assert hook.missing_docstrings(page) == []
    undocumented = "::: textcluster.api.Pipeline\n    options:\n      members:\n        - _corpus_topics\n"
    assert hook.missing_docstrings(undocumented) == ["textcluster.api.Pipeline._corpus_topics"]


def test_configuration_reference_covers_every_builtin_plugin():
    generated_pages = _hook()
    page = generated_pages.configuration_page()
    for kind, group in generated_pages.GROUPS.items():
        for key in registry.ALL[kind].keys():  # noqa: SIM118 (a Registry is not iterable)
            if generated_pages._built_in(registry.ALL[kind].get(key)):
                heading = f"### `{key}`" if group == "evaluation.params" else f"### `{group}={key}`"
                assert heading in page, f"the configuration reference lacks {heading}"
    # defaults come from the constructor: kmeans searches k unless told
    assert "| `clusterer.n_clusters` | `auto` |" in page
    assert "| `encoder` | `auto` |" in page  # the default choice before the data settles the recipe
