"""MkDocs hook: the pages that are generated at build time, so they cannot drift from what they describe.

* ``reference/configuration.md``: every built-in plugin of every registry with its settings, each one's
  default (from the plugin's constructor signature) and what it accepts (from the plugin's declared
  ``parameters``, the same declarations the config check reads); the top-level keys from
  :data:`textcluster.checks.TOP_LEVEL` with the defaults of the composed config (they have no constructor).
* ``results/*.md``: the files of ``benchmarks/results/`` as they are, one page each, and an index.

Pages written for GitHub link to ``../benchmarks/results/<file>``; the hook points those links at the
generated pages, so one link works on GitHub and on the site.
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.generated_pages")  # a warning here fails `mkdocs build --strict`
ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
CONFIGURATION_PAGE = "reference/configuration.md"
RESULTS_INDEX = "results/index.md"

# registry kind -> where its settings live on the command line
GROUPS = {
    "datasets": "data",
    "encoders": "encoder",
    "reducers": "reducer",
    "clusterers": "clusterer",
    "refiners": "refiner",
    "noise_policies": "noise",
    "evaluators": "evaluation.params",
}
NESTED_DEFAULT = "-"  # a nested setting left out takes the value the plugin computes (said on the page)
RUN_SET = {"recipe": "null (the run records what encoder=auto chose)"}  # top-level keys the run fills in
RESULTS_LINK = re.compile(r"\]\(((?:\.\./)+)benchmarks/results/([^)#\s]+)(#[^)\s]*)?\)")
MARKDOWN_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def _textcluster():
    """Import textcluster from this checkout (mkdocs may run from another folder)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from textcluster import checks, config, registry
    from textcluster.contracts import default_params
    from textcluster.params import Block

    return checks, config, registry, default_params, Block


# --- the configuration reference -------------------------------------------------------------------------------


def shown(value: Any) -> str:
    """A default as it is written on the command line (``null``, ``true``, ``[1, 2]``, plain text)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}: {shown(item)}" for key, item in value.items()) + "}"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _summary(cls: type) -> str:
    """The first paragraph of a class's docstring, on one line."""
    doc = (cls.__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split()) if doc else ""


def setting_rows(prefix: str, constraints: Mapping[str, Any], defaults: Mapping[str, Any], Block) -> list[str]:
    """One table row per setting; a nested block (``features``) adds a row per nested setting."""
    rows = []
    for name, constraint in constraints.items():
        default = defaults.get(name, "(required)") if isinstance(defaults, Mapping) else "(required)"
        nested = isinstance(constraint, Block)
        accepts = "a group of settings, below" if nested and constraint.fields else constraint.describe()
        default_cell = "" if nested or default == NESTED_DEFAULT else f"`{_cell(shown(default))}`"
        rows.append(f"| `{prefix}{name}` | {default_cell} | {_cell(accepts)} |")
        if nested:
            inner = default if isinstance(default, Mapping) else {}
            rows += setting_rows(f"{prefix}{name}.", constraint.fields, _known(inner, constraint.fields), Block)
    return rows


def _known(defaults: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """Nested defaults, with the settings a plugin fills in itself marked so."""
    return {name: defaults.get(name, NESTED_DEFAULT) for name in fields}


def plugin_section(group: str, key: str, cls: type, default_params, Block) -> list[str]:
    lines = [f"### `{group}={key}`" if group != "evaluation.params" else f"### `{key}`", ""]
    summary = _summary(cls)
    if summary:
        lines += [_cell(summary), ""]
    lines += [f"Class: `{cls.__module__}.{cls.__qualname__}`", ""]
    names = cls.parameter_names()
    if names is None:
        return lines + ["Takes any keyword (declares none).", ""]
    if not names:
        return lines + ["No settings.", ""]
    declared = cls.parameters or {}
    defaults = default_params(cls)  # what cls() holds: nested blocks such as encoder.features whole
    constraints = {name: declared.get(name) for name in names}
    lines += ["| setting | default | accepts |", "| --- | --- | --- |"]
    for name, constraint in constraints.items():
        if constraint is None:  # a plugin that declares nothing is checked by name only
            lines.append(f"| `{group}.{name}` | `{_cell(shown(defaults.get(name, '(required)')))}` | (not declared) |")
        else:
            lines += setting_rows(f"{group}.", {name: constraint}, defaults, Block)
    return lines + [""]


def _built_in(cls: type) -> bool:
    """textcluster's own plugin; the label metrics are classes made with ``type()`` inside textcluster (module abc)."""
    return cls.__module__.startswith("textcluster.") or cls.__module__ == "abc"


def configuration_page() -> str:
    checks, config, registry, default_params, Block = _textcluster()
    # the defaults before encoder=auto is settled (the settled recipe depends on the data); a plain compose where the
    # project composes in one step
    composed = config.to_plain(config.compose([]))
    lines = [
        "# Configuration reference",
        "",
        "Generated when the site is built: each plugin's settings come from its constructor (the default) "
        "and its declared `parameters` (what it accepts), the declarations `textcluster` checks every config "
        "against before any data loads, so this page cannot disagree with the code. "
        "`textcluster --cfg job` prints the composed config of a run. A plugin package you install adds its "
        "own keys to the same groups. A nested setting shown as `-` takes the value the plugin works out for it "
        "when left out (its docstring says which).",
        "",
        "## Top-level keys",
        "",
        "Defaults as `conf/config.yaml` composes them (these keys belong to no plugin).",
        "",
        "| setting | default | accepts |",
        "| --- | --- | --- |",
    ]
    lines += setting_rows("", checks.TOP_LEVEL, {**composed, **RUN_SET}, Block)
    lines += ["", "## Default choices", "", "| group | default |", "| --- | --- |"]
    for group in ("data", "encoder", "reducer", "clusterer", "refiner"):
        choice = composed.get(group, {}).get("name") if isinstance(composed.get(group), Mapping) else None
        lines.append(f"| `{group}` | `{shown(choice if choice is not None else 'none')}` |")
    lines.append("")
    for kind, group in GROUPS.items():
        reg = registry.ALL[kind]
        lines += [f"## {kind.replace('_', ' ').capitalize()}", ""]
        if group == "evaluation.params":
            lines += ["Chosen by `evaluation.metrics`; settings under `evaluation.params.<key>.*`.", ""]
        keys = reg.keys()
        for key in keys:
            cls = reg.get(key)
            if not _built_in(cls):
                continue  # an installed third-party plugin: not part of textcluster's own reference
            lines += plugin_section(group, key, cls, default_params, Block)
    return "\n".join(lines) + "\n"


# --- the results pages ------------------------------------------------------------------------------------------


def _title(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem.replace("-", " ").capitalize()


def result_files() -> list[Path]:
    return sorted(RESULTS.glob("*.md"))


def results_index() -> str:
    lines = [
        "# Results",
        "",
        "Every measurement behind a claim in these pages, as `benchmarks/` wrote it (each page names the command "
        "that remakes it). Generated from `benchmarks/results/` when the site is built.",
        "",
        "| page | file |",
        "| --- | --- |",
    ]
    lines += [f"| [{_cell(_title(path))}]({path.name}) | `{path.name}` |" for path in result_files()]
    return "\n".join(lines) + "\n"


def results_page(path: Path) -> str:
    """A results file as a page: links to other results files and pictures kept, any other link as plain text."""
    text = path.read_text(encoding="utf-8")
    present = {item.name for item in RESULTS.iterdir()}

    def keep_or_flatten(match: re.Match) -> str:
        bang, label, target = match.groups()
        if re.match(r"^[a-z]+://|^#|^mailto:", target):
            return match.group(0)
        name = target.split("#", 1)[0]
        if "/" not in name and name in present and (name.endswith(".md") or bang):
            return match.group(0)
        return f"{label} (`{target}`)"

    text = MARKDOWN_LINK.sub(keep_or_flatten, text)
    return text if text.lstrip().startswith("# ") else f"# {_title(path)}\n\n{text}"


# --- the API reference: every object it documents has a docstring ------------------------------------------------

API_PAGE = "reference/api.md"
DIRECTIVE = re.compile(r"^::: ([\w.]+)\s*$")
MEMBER = re.compile(r"^\s+- (\w+)\s*$")


def documented_objects(markdown: str) -> list[str]:
    """Dotted paths of the page's ``::: object`` directives and of the members each lists."""
    paths, current = [], None
    for line in markdown.splitlines():
        directive, member = DIRECTIVE.match(line), MEMBER.match(line)
        if directive:
            current = directive.group(1)
            paths.append(current)
        elif member and current:
            paths.append(f"{current}.{member.group(1)}")
    return paths


def _resolve(path: str) -> Any:
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


def _own_docstring(path: str) -> str | None:
    """The docstring mkdocstrings would show: the object's own, or for a method the class that defines it."""
    obj = _resolve(path)
    owner_path, _, name = path.rpartition(".")
    owner = _resolve(owner_path) if owner_path else None
    if isinstance(owner, type):
        for klass in owner.__mro__:
            if name in vars(klass):
                obj = vars(klass)[name]
                obj = getattr(obj, "__func__", getattr(obj, "fget", obj))
                break
    return obj.__doc__ if not isinstance(obj, type) or "__doc__" in vars(obj) else None


def missing_docstrings(markdown: str) -> list[str]:
    _textcluster()  # this checkout on sys.path
    return [path for path in documented_objects(markdown) if not (_own_docstring(path) or "").strip()]


SPHINX_ROLE = re.compile(r":(?:class|meth|func|mod|data|attr|exc):<code>~?([^<]*)</code>")


def _plain_role(match: re.Match) -> str:
    """``:class:`~a.b.C``` (Sphinx's cross-reference, which the docstrings use) shown as the name in code."""
    name = match.group(1)
    shortened = "<code>~" in match.group(0)  # Sphinx's ~: show the last part of the dotted name only
    return f"<code>{name.rsplit('.', 1)[-1] if shortened else name}</code>"


# --- mkdocs events ----------------------------------------------------------------------------------------------


def on_config(config):
    """The Results section of the navigation lists every results file by name (titles repeat; the index has them)."""
    nav = config["nav"]
    for index, entry in enumerate(nav):
        if isinstance(entry, Mapping) and entry.get("Results") == RESULTS_INDEX:
            pages = [{"Overview": RESULTS_INDEX}] + [{path.stem: f"results/{path.name}"} for path in result_files()]
            nav[index] = {"Results": pages}
    return config


def on_files(files, config):
    files.append(File.generated(config, CONFIGURATION_PAGE, content=configuration_page()))
    files.append(File.generated(config, RESULTS_INDEX, content=results_index()))
    for path in result_files():
        files.append(File.generated(config, f"results/{path.name}", content=results_page(path)))
    for path in sorted(RESULTS.glob("*.png")):
        files.append(File.generated(config, f"results/{path.name}", abs_src_path=str(path)))
    return files


def on_page_markdown(markdown, page, config, files):
    """``../benchmarks/results/x.md`` (right on GitHub) becomes the generated ``results/x.md`` page; an object the
    API reference documents without a docstring is a warning (an error under ``--strict``)."""
    if page.file.src_uri == API_PAGE:
        for path in missing_docstrings(markdown):
            log.warning("%s: %s has no docstring; write one (the API reference shows it)", API_PAGE, path)
    depth = page.file.src_uri.count("/")

    def to_page(match: re.Match) -> str:
        return f"]({'../' * depth}results/{match.group(2)}{match.group(3) or ''})"

    return RESULTS_LINK.sub(to_page, markdown)


def on_page_content(html, page, config, files):
    """The docstrings' Sphinx roles, which mkdocstrings leaves as text (``:class:Plugin``), as plain code names."""
    return SPHINX_ROLE.sub(_plain_role, html) if page.file.src_uri == API_PAGE else html
