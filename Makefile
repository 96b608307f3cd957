# brgpu: the two commands are `make demo` and `make test`; both set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.brgpu-installed
JOBS   ?= 2
PYTEST_ARGS ?=
BENCH ?= all

export AMARANTH_USE_YOSYS := builtin
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: all venv demo test soak bench synth verilog lint clean distclean help

all: help

help:
	@echo "make demo    run an INT8 GEMM on the fpga tensor core in RTL simulation"
	@echo "make test    lint and run the whole regression (SIM=icarus|verilator to pick one)"
	@echo "make soak    the long random runs (SOAK=n scales them, default 20)"
	@echo "make bench   cycle-count benchmarks (BENCH=tensor|tensor_fp|cache|hbm|link|mesh|chip|all); reports under build/bench/"
	@echo "make synth   out-of-context ECP5-85F synthesis of the tensor core"
	@echo "make verilog Verilog of every block in the fpga config under build/verilog/"
	@echo "make clean   remove build/ and sim_build/"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/brgpu demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(JOBS) $(PYTEST_ARGS)

soak: $(STAMP)
	SOAK=$${SOAK:-20} $(BIN)/python -m pytest -n $(JOBS) -k "random or back_to_back or reset" $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/brgpu bench $(BENCH)

synth: $(STAMP)
	$(BIN)/brgpu synth tensor_core --device ecp5-85f

verilog: $(STAMP)
	@for block in $$($(BIN)/python -c 'from hdl.blocks import BLOCKS; print(*BLOCKS)'); do \
		echo "brgpu verilog $$block"; $(BIN)/brgpu verilog $$block || exit 1; \
	done

clean:
	rm -rf build sim_build out

distclean: clean
	rm -rf $(VENV)
