"""umap-learn's numba code compiled once per machine, not once per process.

umap-learn compiles its numba functions on first call in every process and
keeps nothing (pynndescent and fast_hdbscan keep theirs in their package
folders): on 2 cores a first UMAP of 300 points takes about 10 s, nearly all
of it compilation, in every run, every ``predict`` and every test that fits
one. :func:`keep_compiled_code` asks numba to keep what they compile on disk
(numba's own cache, the one ``@njit(cache=True)`` uses), under
``<cache root>/numba/<versions>/``; a later process loads it instead (the same
fit then takes about 1 s, the same layout to the bit). Numba's cache folder
is set only while these functions' caches are made: other libraries' stay
where they are (moving them would make each compile its code again once).

What keeps a stored function right:

* numba keys each entry by the function's source file (its time and size),
  its bytecode, the argument types and the CPU (name and features), so an
  edited source or another machine sharing the folder compiles afresh;
* a function compiled into another (a distance called by a layout) is not
  tracked across files by numba, so the folder is named by the versions of
  numba, llvmlite, numpy, umap-learn and pynndescent: an upgrade of any of
  them starts an empty folder;
* numba keys entries by code, not by compile options, so a function that two
  dispatchers compile with different options (umap-learn's layout epoch, one
  of them parallel) is left uncached: one could load the other's code;
* numba writes each file under a temporary name and renames it into place,
  so a kill or two processes at once leave whole files.

``NUMBA_CACHE_DIR``, where set, is numba's and is kept. Where the folder
cannot be written, functions compile in the process as before.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import sys
from collections import Counter
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from textcluster.storage import machine_cache_root

log = logging.getLogger(__name__)

PACKAGES = ("umap",)  # top-level modules whose numba functions are kept (pynndescent keeps its own)
VERSIONED = ("numba", "llvmlite", "numpy", "umap-learn", "pynndescent")  # what compiled code depends on


@functools.cache  # the installed versions do not change in a process; every UMAP asks
def versions_key() -> str:
    """A short name for the versions the compiled code depends on (the folder it is kept in)."""
    found = []
    for name in VERSIONED:
        try:
            found.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            found.append(f"{name}=none")
    found.append(f"python={sys.version_info.major}.{sys.version_info.minor}")
    return hashlib.sha256(" ".join(found).encode()).hexdigest()[:16]


def keep_compiled_code() -> None:
    """Let numba keep on disk what umap-learn's functions compile (module docstring).

    Call it once umap-learn is imported and before its functions run; calling it again is cheap and picks up
    functions that appeared since (such as the layout epoch the UMAP reducer compiles with ``nogil``).
    """
    import numba

    if numba.config.DISABLE_JIT:
        return
    uncached = [
        dispatcher for dispatcher in _unshared(_dispatchers()) if type(dispatcher._cache).__name__ == "NullCache"
    ]
    folder = (numba.config.CACHE_DIR or _own_folder()) if uncached else None
    if folder is None:
        return
    # numba reads its cache folder when a function's cache is made, so the folder is set around these alone:
    # libraries that keep their own cache (fast_hdbscan, pynndescent, in their package folders) keep it there
    previous, numba.config.CACHE_DIR = numba.config.CACHE_DIR, folder
    try:
        for dispatcher in uncached:
            try:
                dispatcher.enable_caching()
            except RuntimeError as error:  # numba found no folder it can use for this function's file
                log.debug("numba cache: %s", error)
    finally:
        numba.config.CACHE_DIR = previous


def _own_folder() -> str | None:
    """``<cache root>/numba/<versions>/``, made if needed; None when it cannot be."""
    folder = machine_cache_root() / "numba" / versions_key()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        log.debug("numba cache: %s cannot be made (%s); compiling in this process", folder, error.strerror)
        return None
    return str(folder)


def _dispatchers() -> list[Any]:
    """The numba dispatchers that the imported modules of PACKAGES hold, each once."""
    from numba.core.dispatcher import Dispatcher

    found = {}
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in PACKAGES and module is not None:
            for value in list(vars(module).values()):
                if isinstance(value, Dispatcher):
                    found[id(value)] = value
    return list(found.values())


def _unshared(dispatchers: list[Any]) -> list[Any]:
    """Those whose function no other dispatcher compiles: numba names a function's cache files by its module and
    qualified name and keys their entries by its code, so two compilations of one function share them."""
    name = lambda dispatcher: (dispatcher.py_func.__module__, dispatcher.py_func.__qualname__)
    compiled_by = Counter(name(dispatcher) for dispatcher in dispatchers)
    return [dispatcher for dispatcher in dispatchers if compiled_by[name(dispatcher)] == 1]
