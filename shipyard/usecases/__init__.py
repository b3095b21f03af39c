"""Use cases: each module declares ``USE_CASE`` (see shipyard.usecase)."""
