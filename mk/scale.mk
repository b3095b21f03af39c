# Scale and capacity (included by the Makefile). Not part of the tests.
# bench-scale: the training pipeline's steps at 1M, 3M and 10M generated events, each step its own
#   process (wall time, peak RSS), then benchmarks/scale/results.md and time.png / memory.png.
#   About 10 minutes for the three sizes on 2 cores; BENCH_SCALE_SIZES overrides the sizes.
# bench-capacity: re-measure the predictor (benchmarks/capacity/measurements.json), then regenerate
#   the prod overlay's replicas and HPA target from it. capacity-check: the overlay is up to date.
BENCH_SCALE_SIZES ?= 1000000 3000000 10000000

.PHONY: bench-scale bench-capacity capacity-model capacity-check

bench-scale: $(STAMP)
	$(BIN)/python -m benchmarks.scale.run --sizes $(BENCH_SCALE_SIZES)

bench-capacity: $(STAMP) bench-tools
	$(BIN)/python -m benchmarks.capacity.measure
	$(BIN)/python -m benchmarks.capacity.model

capacity-model: $(STAMP)
	$(BIN)/python -m benchmarks.capacity.model

capacity-check: $(STAMP)
	$(BIN)/python -m benchmarks.capacity.model --check
