"""Writing a run folder: metrics, assignments, versions, status."""
