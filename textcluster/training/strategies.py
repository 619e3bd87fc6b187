"""Whether trainer settings ask for several processes (no torch or Lightning import: every run asks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DISTRIBUTED_STRATEGIES = ("ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "fsdp", "deepspeed")


def is_distributed(trainer_settings: Mapping[str, Any]) -> bool:
    """True when the settings ask for a DDP-like strategy over more than one device or node.

    ``devices: auto`` or ``-1`` count as several: Lightning decides, and one
    process through :func:`distributed_transform` is still right.
    """
    strategy = str(trainer_settings.get("strategy", "auto")).split("_find_unused")[0]
    devices = trainer_settings.get("devices", 1)
    if isinstance(devices, Sequence) and not isinstance(devices, str):
        devices = len(devices)
    one_device = str(devices).strip() == "1"
    return strategy in DISTRIBUTED_STRATEGIES and (not one_device or int(trainer_settings.get("num_nodes", 1)) > 1)
