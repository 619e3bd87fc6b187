"""A local plugin for the fault-injection tests: the raw TF-IDF encoder, slowed down per shard, so a signal
can land while a run is encoding (plugins_dir=tests/fault_plugins encoder=slow_raw)."""

from __future__ import annotations

import time

from textcluster.encoders.dense import RawEncoder
from textcluster.params import Float
from textcluster.registry import encoders


@encoders.register("slow_raw")
class SlowRawEncoder(RawEncoder):
    depends_on_seed = False  # its output is the TF-IDF vectors, whatever the seed
    parameters = {**RawEncoder.parameters, "seconds_per_call": Float(min=0)}

    def __init__(self, features=None, seconds_per_call: float = 0.4):
        super().__init__(features)
        self.seconds_per_call = seconds_per_call

    def transform(self, dataset):
        time.sleep(self.seconds_per_call)
        return super().transform(dataset)
