"""umap-learn's numba code is kept on disk by one process and loaded by the next (textcluster.compiled)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numba

from textcluster.compiled import _dispatchers, _unshared, versions_key
from textcluster.reducers.builtin import UMAPReducer

# One small umap-learn function, run in a fresh process (SIGMAS) or in this one (sigmas_here).
SIGMAS = """
import numpy as np
from umap import umap_

def sigmas():
    distances = np.sort(np.random.default_rng(0).random((50, 5)).astype(np.float32), axis=1)
    return umap_.smooth_knn_dist(distances, 5.0)[0].tolist()
"""
PROBE = (
    SIGMAS
    + """
import json
import numba
from textcluster.compiled import keep_compiled_code

keep_compiled_code()
found = sigmas()
stats = umap_.smooth_knn_dist.stats
print(json.dumps({
    "hits": sum(stats.cache_hits.values()),
    "misses": sum(stats.cache_misses.values()),
    "cache": type(umap_.smooth_knn_dist._cache).__name__,
    "numba_cache_dir": numba.config.CACHE_DIR,
    "sigmas": found,
}))
"""
)


def sigmas_here() -> list[float]:
    namespace: dict = {}
    exec(SIGMAS, namespace)
    return namespace["sigmas"]()


def probe(cache_root) -> dict:
    """What the fresh process counted and found, with ``cache_root`` as TEXTCLUSTER_CACHE_DIR."""
    env = {**os.environ, "TEXTCLUSTER_CACHE_DIR": str(cache_root)}
    env.pop("NUMBA_CACHE_DIR", None)
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_a_second_process_loads_what_the_first_compiled(tmp_path):
    first, second = probe(tmp_path), probe(tmp_path)
    assert (first["hits"], first["misses"]) == (0, 1)
    assert (second["hits"], second["misses"]) == (1, 0)
    assert second["numba_cache_dir"] == ""  # numba's setting is left as it was: other libraries keep their caches
    assert second["sigmas"] == first["sigmas"] == sigmas_here()
    # one folder per set of versions: an upgraded numba or umap-learn starts an empty one
    assert [path.name for path in (tmp_path / "numba").iterdir()] == [versions_key()]


def test_where_the_cache_root_cannot_be_written_the_code_compiles_in_the_process(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    compiled_here = probe(blocker)
    assert compiled_here["cache"] == "NullCache" and compiled_here["hits"] == 0
    assert compiled_here["sigmas"] == sigmas_here()


def test_one_function_compiled_two_ways_is_left_uncached():
    """numba names cache files by function and keys entries by code, not options: the two could load each
    other's code, so neither is kept; the reducer's nogil layout epoch is a function of its own, and is."""

    def add_one(x):
        return x + 1

    def double(x):
        return x * 2

    plain, parallel, other = numba.njit(add_one), numba.njit(add_one, parallel=True), numba.njit(double)
    assert _unshared([plain, parallel, other]) == [other]

    UMAPReducer()._umap()
    from umap import layouts

    epoch = layouts._nb_optimize_layout_euclidean_single_epoch
    assert epoch.targetoptions.get("nogil")
    assert epoch in _unshared(_dispatchers())
