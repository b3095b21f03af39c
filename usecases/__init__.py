"""Use cases: one package each (contract, data generator, Feast definitions), outside the platform."""
