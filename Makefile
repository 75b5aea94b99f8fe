# kubescale developer commands. `make demo` and `make test` work from a fresh clone: they
# create the virtual environment, build the extension and the local control plane as needed.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
ACTIVATE := source $(VENV)/bin/activate
CARGO_TEST_FLAGS ?= --no-default-features

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

.PHONY: venv debian-packages control-plane prometheus kubectl old-distro develop wheel install-wheel sdist \
	test test-setup test-build test-rust test-unit test-cluster lint lint-rust lint-bindings lint-python stubs docs bench fuzz soak demo clean

# The cluster layer runs in this many pytest workers, each with its own local control plane
# (docs/development.md: most of a cluster test's time is waiting, so more workers than cores pay).
PYTEST_WORKERS ?= 4

venv: $(VENV)/.installed

# The venv with the wheel's build tools only (maturin, zig): the release build starts from here
# while the rest of the venv installs.
$(VENV)/.build-tools: requirements-build.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-build.txt
	touch $@

$(VENV)/.installed: requirements-dev.txt requirements-build.txt | $(VENV)/.build-tools
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# Every Debian package the set-up needs, in one apt-get call, so that the steps below can run
# side by side (apt allows one installer at a time).
debian-packages:
	bash scripts/install-debian-packages.sh

prometheus: | debian-packages
	bash scripts/install-prometheus.sh

kubectl: | debian-packages
	bash scripts/install-kubectl.sh

control-plane: | debian-packages
	bash scripts/install-control-plane.sh

# A Debian 11 root (glibc 2.31, CPython 3.9), cached: the wheel is tested on it.
old-distro: | debian-packages
	bash scripts/install-old-distro.sh

# Builds the extension into the venv (editable: python/ is used in place). For development.
develop: venv
	$(ACTIVATE) && maturin develop -q

# The release wheel, in dist/: abi3 (one wheel for every CPython >= 3.9), manylinux2014 (glibc
# 2.17: linked by zig against the old glibc's symbols, so Debian 11, Ubuntu 20.04, RHEL 8 and
# Amazon Linux 2 install it), stripped (pyproject.toml). maturin finds zig through the venv's
# `ziglang` package, so the venv's bin is on PATH.
wheel: $(VENV)/.build-tools
	rm -f dist/kubescale-*.whl
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/maturin build --release -q --zig --compatibility manylinux2014 -o dist
	@ls -l dist/kubescale-$(VERSION)-*.whl | awk '{print "wheel:", $$NF, $$5, "bytes"}'

# The sdist, unpacked, built from its own content into a wheel, installed into a fresh venv (as
# pip does where no wheel fits) and smoke-tested there; twine checks its metadata and the wheel's.
# CI runs it. The build runs maturin from the development venv with the release wheel's flags and
# cargo target directory (cargo fingerprints the linker path, which holds maturin's own path), so
# the dependencies compiled for the release wheel are reused; the sdist's files are unpacked with
# the current time, so cargo compiles the crate from them. An isolated `pip install` of the sdist
# runs in the release workflow's sdist job.
SDIST_DIR := $(or $(TMPDIR),/tmp)/kubescale-sdist
sdist: venv wheel
	rm -f dist/kubescale-*.tar.gz
	$(VENV)/bin/maturin sdist -o dist
	rm -rf $(SDIST_DIR) && mkdir -p $(SDIST_DIR)/src $(SDIST_DIR)/wheels
	tar -xzf dist/kubescale-$(VERSION).tar.gz -C $(SDIST_DIR)/src --strip-components=1 --touch
	PATH="$(abspath $(VENV))/bin:$$PATH" CARGO_TARGET_DIR="$(abspath target)" \
		MATURIN_PEP517_ARGS="--zig --compatibility manylinux2014" \
		$(VENV)/bin/pip wheel -q --no-cache-dir --no-build-isolation --no-deps -w $(SDIST_DIR)/wheels $(SDIST_DIR)/src
	python3 -m venv $(SDIST_DIR)/venv
	$(SDIST_DIR)/venv/bin/pip install -q --no-index --find-links $(SDIST_DIR)/wheels kubescale
	$(SDIST_DIR)/venv/bin/python scripts/smoke_test.py
	$(VENV)/bin/twine check --strict dist/kubescale-$(VERSION).tar.gz dist/kubescale-$(VERSION)-*.whl

# Installs the built wheel into the venv, replacing an editable install: tests run against it.
install-wheel: wheel venv
	$(PY) -m pip install -q --force-reinstall --no-deps dist/kubescale-$(VERSION)-*.whl

# Everything `make test` runs, in layers: Rust (unit and cluster tests), lints, then pytest: the
# unit layer and the cluster layer in $(PYTEST_WORKERS) workers, against the installed release
# wheel, not the source tree. The set-up steps run side by side with the Rust test build (one
# downloads while the other compiles).
test:
	@$(MAKE) --no-print-directory -j3 --output-sync=target test-setup test-build lint-bindings
	@$(MAKE) --no-print-directory test-rust lint-python test-unit test-cluster

test-setup: venv control-plane prometheus kubectl old-distro install-wheel

# clippy as the compiler of kubescale's own crate, as `cargo clippy` runs it, but building: the
# Rust tests' build is also clippy's pass over the core, the tests and the examples (`-D
# warnings`), with no second pass over every dependency.
CLIPPY_BUILD := RUSTC_WORKSPACE_WRAPPER=clippy-driver CLIPPY_ARGS=-Dwarnings

# The Rust tests compiled and linted, not run (cargo test runs them in test-rust).
test-build:
	$(CLIPPY_BUILD) cargo test $(CARGO_TEST_FLAGS) --no-run -q

# Rust: in-module unit tests, the property tests and tests/core_cluster.rs on one local cluster
# (built by test-build: the same wrapper, so cargo builds nothing again).
test-rust: venv control-plane
	$(PY) -m kubescale.testing exec -- env $(CLIPPY_BUILD) cargo test $(CARGO_TEST_FLAGS) -q -- --include-ignored

# The unit layer: no control plane is needed or started (tests/unit, in seconds).
test-unit: venv
	@$(PY) -c 'import kubescale' 2>/dev/null || $(MAKE) --no-print-directory install-wheel
	$(PY) -m pytest tests/unit -q

# The cluster layer: each worker starts its own local control plane (tests that need one of
# their own still start it); a test never sees another worker's objects.
test-cluster: venv control-plane prometheus kubectl old-distro
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal --ignore tests/unit -q

lint: lint-rust lint-python

lint-rust: lint-bindings
	cargo clippy --all-targets $(CARGO_TEST_FLAGS) -q -- -D warnings

# rustfmt, and clippy over the library with its Python bindings (`make test` lints the rest in
# test-build).
lint-bindings:
	cargo fmt --check
	cargo clippy --lib -q -- -D warnings

# Needs the built module (the stubs are checked against it).
lint-python: venv
	$(VENV)/bin/ruff check python tests examples
	$(VENV)/bin/ruff format --check python tests examples
	$(PY) scripts/gen_stubs.py --check
	$(PY) -m mypy.stubtest kubescale._native --allowlist .stubtest-allowlist
	$(PY) -m mypy --strict python/kubescale examples tests/api/typing_check.py tests/helpers tests/unit
	$(VENV)/bin/mkdocs build --strict -q -d "$$(mktemp -d)"
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/zizmor --offline --quiet .github/workflows/
	$(VENV)/bin/actionlint

# python/kubescale/_native.pyi from scripts/stubs/_native.pyi.in and the built module's docstrings.
stubs: venv
	$(PY) scripts/gen_stubs.py

# The documentation site (guide pages in docs/, the API reference from the docstrings), in site/.
docs: venv
	$(VENV)/bin/mkdocs build --strict -q
	@echo "site/index.html"

# kubescale and its peers side by side on one local cluster: benches/RESULTS.md, results.png;
# what each kind of request costs the server (its section of RESULTS.md); then the loop at 100,
# 1,000 and 10,000 ElastiServices: its section of RESULTS.md, loop.png; then a new owner's first
# pass at 1,000 and 10,000 (benches/takeover.py; --owners compares another build in the same run);
# then 1,000 Deployments slept and woken beside kubectl and the official client (benches/fleet.py);
# then a cooldown recommended from a week of history (benches/recommend.py).
bench: venv control-plane kubectl install-wheel
	$(PY) -m pip install -q -r benches/requirements.txt
	$(PY) benches/run.py
	$(PY) benches/server_cost.py
	$(PY) benches/loop.py
	$(PY) benches/takeover.py
	$(PY) benches/fleet.py
	$(PY) benches/recommend.py

# Long property-test runs of every parser (a short run is part of `make test`).
fuzz:
	PROPTEST_CASES=$${PROPTEST_CASES:-20000} cargo test --release --no-default-features --test fuzz_parsers

# The long fault and load tests (5,000 operations, etcd down for 10 s).
soak: venv control-plane prometheus install-wheel
	KUBESCALE_SOAK=1 $(PY) -m kubescale.testing exec -- $(PY) -m pytest tests/processes/test_faults.py -v

demo:
	@$(MAKE) --no-print-directory -j3 --output-sync=target venv control-plane install-wheel
	$(PY) -m kubescale.testing exec -- $(PY) examples/demo.py

clean:
	rm -rf $(VENV) target dist site
