"""The import-cycle contract (tools/import_cycles.py) counts the package ``__init__`` each import runs: it finds
a cycle through an ``__init__`` that import-linter's ``acyclic_siblings`` misses, and textcluster has none."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import grimp
import pytest

from tools.import_cycles import InitCyclesContract, find_cycles

REPO_ROOT = Path(__file__).resolve().parent.parent


def write_package(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def graph_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, package: str, files: dict[str, str]):
    write_package(tmp_path, files)
    monkeypatch.syspath_prepend(str(tmp_path))
    return grimp.build_graph(package, cache_dir=None)


def check(graph, container: str):
    contract = InitCyclesContract(name="cycles", session_options={}, contract_options={"containers": [container]})
    return contract.check(graph, verbose=False)


# The package imports its plugin, which imports a sibling: no two siblings import each other, but importing
# cyc_a.base runs cyc_a/__init__.py, which imports the plugin back.
PLUGIN_CYCLE = {
    "cyc_a/__init__.py": "from cyc_a import plugin\n",
    "cyc_a/base.py": "VALUE = 1\n",
    "cyc_a/plugin.py": "from cyc_a.base import VALUE\n",
}


def test_a_cycle_through_a_package_init_is_found_with_its_path(tmp_path, monkeypatch):
    graph = graph_of(tmp_path, monkeypatch, "cyc_a", PLUGIN_CYCLE)
    assert not graph.nominate_cycle_breakers("cyc_a")  # what acyclic_siblings checks: no sibling cycle

    result = check(graph, "cyc_a")
    assert not result.kept
    [found] = result.metadata["cycles"]
    assert found["cycle"] == ["cyc_a", "cyc_a.plugin", "cyc_a"]
    assert found["steps"] == [
        "cyc_a -> cyc_a.plugin (line 1: from cyc_a import plugin)",
        "cyc_a.plugin -> cyc_a (line 1: from cyc_a.base import VALUE; that runs cyc_a's __init__ first)",
    ]


def test_a_cycle_through_a_subpackage_and_a_function_level_import_is_found(tmp_path, monkeypatch):
    files = {
        "cyc_b/__init__.py": "",
        "cyc_b/sub/__init__.py": "def load():\n    from cyc_b import other\n",
        "cyc_b/sub/leaf.py": "",
        "cyc_b/other.py": "import cyc_b.sub.leaf\n",
    }
    graph = graph_of(tmp_path, monkeypatch, "cyc_b", files)
    [found] = find_cycles(graph, ["cyc_b"])
    assert found["cycle"] == ["cyc_b.other", "cyc_b.sub", "cyc_b.other"]


def test_a_package_init_may_import_a_module_that_imports_nothing_back(tmp_path, monkeypatch):
    files = {
        "cyc_c/__init__.py": "from cyc_c.base import VALUE\n",
        "cyc_c/base.py": "VALUE = 1\n",
        "cyc_c/plugin.py": "from cyc_c.base import VALUE\n",
    }
    graph = graph_of(tmp_path, monkeypatch, "cyc_c", files)
    assert check(graph, "cyc_c").kept


def test_textcluster_has_no_cycle_counting_package_inits():
    graph = grimp.build_graph("textcluster", cache_dir=None)
    cycles = find_cycles(graph, ["textcluster"])
    assert not cycles, "\n".join(step for found in cycles for step in found["steps"])


def test_lint_imports_runs_the_contract_and_prints_the_cycle(tmp_path):
    """The contract type as pyproject.toml registers it, through the lint-imports command."""
    write_package(tmp_path, PLUGIN_CYCLE)
    (tmp_path / ".importlinter").write_text(
        textwrap.dedent(
            """\
            [importlinter]
            root_package = cyc_a
            contract_types =
                acyclic_with_inits: tools.import_cycles.InitCyclesContract

            [importlinter:contract:cycles]
            name = cycles through package inits
            type = acyclic_with_inits
            containers =
                cyc_a
            """
        )
    )
    script = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "COLUMNS": "300"}
    done = subprocess.run(
        [str(script), "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Import cycle: cyc_a -> cyc_a.plugin -> cyc_a" in done.stdout
