"""Bring a SHIPYARD_HOME to the point where the training pipeline can run."""

from shipyard.settings import Settings

SMALL_ROWS = 20_000
SEED = 11


def prepare_platform(settings: Settings, rows: int = SMALL_ROWS, seed: int = SEED) -> None:
    """Data generated, Feast applied and materialized: everything the training pipeline needs."""
    from shipyard import data, features
    from shipyard.usecase import load_use_case

    use_case = load_use_case(settings.use_case)
    data.generate(settings, use_case, rows, seed, None)
    features.apply(settings, use_case)
    features.materialize(settings)
