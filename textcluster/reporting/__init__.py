"""Every file a run writes, from the fitted pipeline in memory: metrics, assignments, topics, predictions,
the report and the model folder."""
