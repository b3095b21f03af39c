# Spark offline store (included by the Makefile): PySpark lives in its own virtualenv, .venv-spark,
# so the default install stays without it (~490 MB). The Spark-vs-DuckDB training-set test runs from
# the main suite and drives this virtualenv in a subprocess; under CI it fails when the venv is missing,
# so `make test` depends on `spark-venv`.
SPARK_VENV := .venv-spark
SPARK_STAMP := $(SPARK_VENV)/.installed

.PHONY: spark-venv test-spark

$(SPARK_STAMP): requirements-spark.lock requirements.lock pyproject.toml
	@command -v java >/dev/null || { echo "Java 17 is required for Spark (Debian package openjdk-17-jre-headless)"; exit 1; }
	test -x $(SPARK_VENV)/bin/python || $(or $(PYTHON),python3) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/python -m pip install --quiet --upgrade pip==25.3
	$(SPARK_VENV)/bin/python -m pip install --quiet -r requirements-spark.lock
	$(SPARK_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $(SPARK_STAMP)

spark-venv: $(SPARK_STAMP)

test-spark: $(STAMP) spark-venv
	$(BIN)/python -m pytest -q tests/integration/test_spark_offline_store.py
