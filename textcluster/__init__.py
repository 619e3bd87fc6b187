"""textcluster: plugin-based clustering of text and images."""

import os

# torch and scikit-learn each bundle an OpenMP runtime. With the default
# (active) wait policy, torch's idle threads spin and starve scikit-learn's
# k-means on a small machine (30x slower on 2 cores). Passive waiting costs
# torch nothing measurable. Only takes effect if set before either is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

# The Python API, imported on first use (``from textcluster import Pipeline``): importing the
# package stays cheap and the setting above still precedes torch.
_LAZY = {
    "Pipeline": ("textcluster.api", "Pipeline"),
    "Dataset": ("textcluster.dataset", "Dataset"),
    "UserError": ("textcluster.errors", "UserError"),
}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'textcluster' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
