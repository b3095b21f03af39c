# Monitoring checks: Prometheus rules and config, Alertmanager config (included by the Makefile).
# The tools come from Debian's prometheus and prometheus-alertmanager packages.

PROMTOOL ?= promtool
AMTOOL ?= amtool
MONITORING_PROM := monitoring/prometheus

.PHONY: prometheus-tools check-monitoring

# Installs only what is missing; CI runs as root on Debian, so no sudo. apt-get update runs
# only when something has to be installed, so a machine that has the tools stays offline.
prometheus-tools:
	@if command -v $(PROMTOOL) >/dev/null 2>&1 && command -v $(AMTOOL) >/dev/null 2>&1; then \
		echo "prometheus-tools: promtool and amtool present"; \
	else \
		echo "prometheus-tools: installing prometheus prometheus-alertmanager"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			prometheus prometheus-alertmanager; \
	fi

check-monitoring: prometheus-tools
	$(PROMTOOL) check rules --lint=all --lint-fatal $(MONITORING_PROM)/rules.yaml
	$(PROMTOOL) test rules $(MONITORING_PROM)/tests/*.yaml
	$(PROMTOOL) check config $(MONITORING_PROM)/prometheus.yml
	$(AMTOOL) check-config monitoring/alertmanager/alertmanager.yml
