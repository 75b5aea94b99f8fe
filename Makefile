# kubescale developer commands. `make demo` and `make test` work from a fresh clone: they
# create the virtual environment, build the extension and the local control plane as needed.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
ACTIVATE := source $(VENV)/bin/activate
CARGO_TEST_FLAGS ?= --no-default-features

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

.PHONY: venv control-plane prometheus kubectl develop wheel install-wheel test lint stubs docs bench fuzz soak demo clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

prometheus:
	bash scripts/install-prometheus.sh

kubectl:
	bash scripts/install-kubectl.sh

control-plane:
	bash scripts/install-control-plane.sh

# Builds the extension into the venv (editable: python/ is used in place). For development.
develop: venv
	$(ACTIVATE) && maturin develop -q

# The release wheel (abi3: one wheel for every CPython >= 3.9), in dist/.
wheel: venv
	rm -f dist/kubescale-*.whl
	$(VENV)/bin/maturin build --release -q -o dist
	@ls -l dist/kubescale-$(VERSION)-*.whl | awk '{print "wheel:", $$NF, $$5, "bytes"}'

# Installs the built wheel into the venv, replacing an editable install: tests run against it.
install-wheel: wheel
	$(PY) -m pip install -q --force-reinstall --no-deps dist/kubescale-$(VERSION)-*.whl

# Starts one local cluster and runs the Rust and the Python suites against it; the Python
# suite runs against the installed release wheel, not the source tree.
test: venv control-plane prometheus kubectl install-wheel
	$(PY) -m kubescale.testing exec -- bash -c 'cargo test $(CARGO_TEST_FLAGS) -- --include-ignored && $(MAKE) --no-print-directory lint && $(PY) -m pytest'

lint: venv
	cargo fmt --check
	cargo clippy --all-targets $(CARGO_TEST_FLAGS) -q -- -D warnings
	cargo clippy --lib -q -- -D warnings
	$(VENV)/bin/ruff check python tests examples
	$(VENV)/bin/ruff format --check python tests examples
	$(PY) scripts/gen_stubs.py --check
	$(PY) -m mypy.stubtest kubescale._native --allowlist .stubtest-allowlist
	$(PY) -m mypy --strict python/kubescale examples tests/typing_check.py

# python/kubescale/_native.pyi from scripts/stubs/_native.pyi.in and the built module's docstrings.
stubs: venv
	$(PY) scripts/gen_stubs.py

# API reference from the docstrings, in docs/api/.
docs: venv
	$(PY) -m pip install -q "pdoc>=14"
	$(PY) -m pdoc -o docs/api kubescale kubescale.asyncio kubescale.errors kubescale.testing
	@echo "docs/api/index.html"

# kubescale and its peers side by side on one local cluster: benches/RESULTS.md, results.png;
# what each kind of request costs the server (its section of RESULTS.md); then the loop at 100,
# 1,000 and 10,000 ElastiServices: its section of RESULTS.md, loop.png.
bench: venv control-plane install-wheel
	$(PY) -m pip install -q -r benches/requirements.txt
	$(PY) benches/run.py
	$(PY) benches/server_cost.py
	$(PY) benches/loop.py

# Long property-test runs of every parser (a short run is part of `make test`).
fuzz:
	PROPTEST_CASES=$${PROPTEST_CASES:-20000} cargo test --release --no-default-features --test fuzz_parsers

# The long fault and load tests (5,000 operations, etcd down for 10 s).
soak: venv control-plane prometheus install-wheel
	KUBESCALE_SOAK=1 $(PY) -m kubescale.testing exec -- $(PY) -m pytest tests/test_faults.py -v

demo: venv control-plane install-wheel
	$(PY) -m kubescale.testing exec -- $(PY) examples/demo.py

clean:
	rm -rf $(VENV) target dist docs/api
