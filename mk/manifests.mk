# GitOps manifests: generate, render, validate, scan (included by the top-level Makefile).
# Validation tools (kubernetes-validate, checkov) live in their own venv, .venv-tools, because
# checkov pins libraries that would clash with the application's; kubectl provides kustomize.

TOOLS_VENV := .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed
TOOLS_REQUIREMENTS := manifests/requirements-tools.txt
MANIFESTS_PY ?= $(if $(BIN),$(BIN),.venv/bin)/python
KUBECTL ?= kubectl
CRDS_DIR ?= ../shared/reference/crds
MANIFEST_TARGETS := overlays/dev overlays/staging overlays/prod argocd
RENDER_DIR ?= $(or $(TMPDIR),/tmp)/shipyard-manifests

.PHONY: tools-venv manifests-generate manifests-render manifests-validate manifests-check test-manifests

$(TOOLS_STAMP): $(TOOLS_REQUIREMENTS)
	test -x $(TOOLS_VENV)/bin/python || $(or $(PYTHON),python3) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet -r $(TOOLS_REQUIREMENTS)
	touch $(TOOLS_STAMP)

tools-venv: $(TOOLS_STAMP)

# Regenerate what other sources own: PrometheusRule and dashboard ConfigMaps from monitoring/,
# and (when the reference CRDs are beside the checkout) the trimmed schemas in manifests/schemas/.
manifests-generate:
	$(MANIFESTS_PY) -m shipyard.gitops_render $(if $(wildcard $(CRDS_DIR)),--crds $(CRDS_DIR))

manifests-render:
	@mkdir -p $(RENDER_DIR)
	@for t in $(MANIFEST_TARGETS); do \
		$(KUBECTL) kustomize manifests/$$t > $(RENDER_DIR)/$$(echo $$t | tr / -).yaml || exit 1; \
		echo "rendered manifests/$$t"; \
	done

manifests-validate: tools-venv manifests-render
	$(TOOLS_VENV)/bin/python manifests/schemas/validate.py $(RENDER_DIR)/*.yaml manifests/argocd/bootstrap/root.yaml
	$(TOOLS_VENV)/bin/checkov -d $(RENDER_DIR) --framework kubernetes --compact --quiet --skip-download \
		--skip-check $$(grep -E '^CKV' manifests/checkov-skips.yaml | cut -d: -f1 | paste -sd, -)

# CI-style: generated files up to date, then render + validate + scan.
manifests-check: manifests-validate
	$(MANIFESTS_PY) -m shipyard.gitops_render --check $(if $(wildcard $(CRDS_DIR)),--crds $(CRDS_DIR))

test-manifests: tools-venv
	$(MANIFESTS_PY) -m pytest -q tests/manifests
