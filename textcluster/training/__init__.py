"""Lightning training for every network: each LightningModule receives its network, one Trainer factory."""
