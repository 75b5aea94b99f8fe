# kubescale developer commands. `make demo` and `make test` work from a fresh clone: they
# create the virtual environment, build the extension and the local control plane as needed.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
ACTIVATE := source $(VENV)/bin/activate
CARGO_TEST_FLAGS ?= --no-default-features

.PHONY: venv control-plane prometheus develop test test-rust test-python lint demo clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

prometheus:
	bash scripts/install-prometheus.sh

control-plane:
	bash scripts/install-control-plane.sh

# Builds the extension into the venv (editable: python/ is used in place).
develop: venv
	$(ACTIVATE) && maturin develop -q

# Starts one local cluster and runs the Rust and the Python suites against it.
test: venv control-plane prometheus develop
	$(PY) -m kubescale.testing exec -- bash -c 'cargo test $(CARGO_TEST_FLAGS) && $(MAKE) --no-print-directory lint && $(PY) -m pytest'

lint: venv
	cargo clippy --all-targets $(CARGO_TEST_FLAGS) -q -- -D warnings
	cargo clippy --lib -q -- -D warnings
	$(VENV)/bin/ruff check python tests examples
	$(VENV)/bin/ruff format --check python tests examples
	$(PY) -m mypy.stubtest kubescale._native --allowlist .stubtest-allowlist

demo: venv control-plane develop
	$(PY) -m kubescale.testing exec -- $(PY) examples/demo.py

clean:
	rm -rf $(VENV) target
