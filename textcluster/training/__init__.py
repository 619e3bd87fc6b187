"""LightningModules that train encoder networks; each receives its network (dependency injection)."""
