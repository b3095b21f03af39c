# Demo benchmark (included by the Makefile): `shipyard demo` in fresh homes, wall time per step.
# Not part of the tests; writes benchmarks/demo/results.md. Best run on an otherwise idle machine.
.PHONY: bench-demo

bench-demo: $(STAMP) prometheus-tools
	$(BIN)/python -m benchmarks.demo.run
