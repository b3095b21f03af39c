# Drift benchmark (included by the Makefile): the drift job vs a plain Evidently DataDriftPreset run.
# Not part of the tests; writes benchmarks/drift/results.md. Takes a few minutes (plain Evidently on 1M rows).
.PHONY: bench-drift

bench-drift: $(STAMP)
	$(BIN)/python -m benchmarks.drift.run
