# Online serving: `make bench-serving` compares the predictor with KServe, MLServer and mlflow serve.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

.PHONY: bench-serving

# Peer servers live in their own virtualenv so the project's pinned set stays untouched.
$(BENCH_STAMP): benchmarks/serving/requirements-peers.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -r benchmarks/serving/requirements-peers.txt
	touch $(BENCH_STAMP)

bench-serving: $(STAMP) $(BENCH_STAMP) bench-tools redis-server-binary
	$(BIN)/python benchmarks/serving/run.py --out benchmarks/serving/results.md
	$(BIN)/python benchmarks/serving/interleaved.py --out benchmarks/serving/results-interleaved.md
