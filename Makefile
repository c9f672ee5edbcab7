# qtpe: `make demo` sets everything up and runs the default design through the whole flow;
# `make test` sets up the same way and runs the regression. Both work on a fresh Debian 12
# machine with only Python 3.11 (as root, or with sudo for the Debian packages).

PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.qtpe-setup
PRESET  ?= mac_w8a8
SIM     ?= icarus
TARGET  ?= generic
OUT     ?= build
JOBS    ?= 2
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBS    := iverilog ccache g++ make

.PHONY: setup demo test sim synth lint bench prove coverage mutate sweep clean

setup: $(STAMP)

# Debian packages (Icarus; ccache makes Verilator rebuilds fast), the venv with the pinned
# Python packages, and the OSU 0.18 um Liberty + OpenSTA unpacked under .tools/.
$(STAMP): pyproject.toml synth/install.py
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m qtpe.synth.install
	touch $(STAMP)

demo: setup
	$(BIN)/qtpe flow --preset $(PRESET) -o $(OUT)/demo
	$(BIN)/python -c "import numpy as n; r = n.random.default_rng(0); \
	  n.save('$(OUT)/demo/A.npy', r.integers(-128, 128, (9, 40))); \
	  n.save('$(OUT)/demo/W.npy', r.integers(-128, 128, (40, 7)))"
	$(BIN)/qtpe gemm --preset array_os_w8a8_4x4 --a $(OUT)/demo/A.npy --w $(OUT)/demo/W.npy \
	  -o $(OUT)/demo/C.npy --sim verilator

test: setup
	$(BIN)/python -m pytest -n $(JOBS) -q

sim: setup
	$(BIN)/qtpe sim --preset $(PRESET) --sim $(SIM) -o $(OUT)/sim/$(PRESET)

synth: setup
	$(BIN)/qtpe synth --preset $(PRESET) --target $(TARGET) -o $(OUT)/synth/$(PRESET)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/qtpe lint --preset $(PRESET)

bench: setup
	$(BIN)/python -m qtpe.bench.run
	$(BIN)/python -m qtpe.bench.arrays
	$(BIN)/python -m qtpe.bench.energy
	$(BIN)/python -m qtpe.bench.lut_table
	$(BIN)/python -m qtpe.bench.floats
	$(BIN)/python -m qtpe.bench.scale
	$(BIN)/python -m qtpe.bench.layers

# The proof table (bench/PROOFS.md): every PE kind against the MAC PE, 2x2 arrays against the
# schedule (about 10 minutes).
prove: setup
	$(BIN)/python -m qtpe.bench.proofs

# The regression's designs on Icarus with their functional coverage: docs/coverage.md.
coverage: setup
	$(BIN)/python -m qtpe.bench.coverage --sim $(SIM) -n $(JOBS)

# The mutation score of the regression (bench/MUTATION.md): 50 Yosys mutants of a small PE of
# every kind and of 2x2 OS and WS arrays, each run through the design's cocotb tests.
mutate: setup
	$(BIN)/python -m qtpe.bench.mutation --jobs $(JOBS)

# Which PE kind wins at which precision (sweeps/pe-kinds.toml): every point verified,
# synthesized for ECP5 and OSU 0.18 um and its energy per MAC measured; report and plots in
# docs/sweeps/pe-kinds/ (30 configs: 12 minutes measured on the idle 2-core machine, 33 and 39
# minutes while other jobs kept its load average at 5-9). Finished points
# are cached in docs/sweeps/pe-kinds/cache/ (not committed): an interrupted run resumes.
sweep: setup
	$(BIN)/qtpe sweep sweeps/pe-kinds.toml -o docs/sweeps/pe-kinds --jobs $(JOBS)

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache
