"""textcluster: plugin-based clustering of text and images."""

import os

# torch and scikit-learn each bundle an OpenMP runtime. With the default
# (active) wait policy, torch's idle threads spin and starve scikit-learn's
# k-means on a small machine (30x slower on 2 cores). Passive waiting costs
# torch nothing measurable. Only takes effect if set before either is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
