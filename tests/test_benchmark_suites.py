"""benchmarks/suites.yaml: it parses, and every cell of every suite composes and passes the config check."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from textcluster.build import check_config
from textcluster.config import compose

SUITES_FILE = Path(__file__).resolve().parents[1] / "benchmarks" / "suites.yaml"
SPEC = yaml.safe_load(SUITES_FILE.read_text())
CELLS = [
    (suite, dataset, name)
    for suite, body in SPEC["suites"].items()
    for dataset, names in body["datasets"].items()
    for name in names
]


@pytest.mark.parametrize(("suite", "dataset", "name"), CELLS, ids=["/".join(cell) for cell in CELLS])
def test_every_cell_composes_and_checks(suite, dataset, name, tmp_path):
    configurations = SPEC["suites"][suite]["configurations"]
    assert name in configurations, f"suite {suite} lists {name} for {dataset} but does not define it"
    data = [override.format(data=tmp_path) for override in SPEC["datasets"][dataset]]
    cell = [override.format(data=tmp_path, models=tmp_path) for override in configurations[name]]
    check_config(compose(data + cell + ["seed=0"]))  # no data is read: the paths need not exist
