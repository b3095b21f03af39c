# `make demo-prod` (included by the Makefile): the loop in the production shape on one machine.
# Needs PostgreSQL (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379) running; the demo
# creates its own database and uses an empty Redis database index, and removes both at the end.
.PHONY: demo-prod

demo-prod: $(STAMP) prometheus-tools
	$(BIN)/shipyard $(USE_CASE_OPTION) demo-prod
