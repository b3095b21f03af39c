# Mutation check (mutmut, configured in pyproject.toml [tool.mutmut]) of components/gate.py,
# components/serving/requests.py and monitoring/drift_compute.py against their unit tests.
# Not part of `make test`: it runs those tests once per mutant. Survivors are listed at the end.
.PHONY: mutation

mutation: $(STAMP)
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut results
