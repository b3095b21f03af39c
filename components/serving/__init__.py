"""Online serving: a KServe predictor that joins request fields with Feast online features."""
