"""KFP v2 pipelines, one module per pipeline; ``pipelines.compile`` writes their IR YAML."""
