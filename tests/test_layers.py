"""The package's layers import one way and no module imports another that imports it back (imports inside
functions count): the import-linter contracts in pyproject.toml, and a direct check of the whole import graph."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_are_kept():
    script = Path(sys.executable).with_name("lint-imports")
    assert script.is_file(), "lint-imports is missing: install the dev extra (make test does)"
    done = subprocess.run([str(script), "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "0 broken" in done.stdout


def test_no_module_is_part_of_an_import_cycle():
    import grimp

    graph = grimp.build_graph("textcluster")  # every import statement, inside functions too
    modules = sorted(graph.modules)
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith("textcluster"):
                assert not graph.chain_exists(importer=imported, imported=module), f"{module} <-> {imported}"
