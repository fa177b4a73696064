PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: install bytecode run test bench bench-memory bench-latency clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml setup.py $(wildcard native/*.pyx) $(wildcard native/*.pxd)
	$(BIN)/pip install -q -e '.[test]'
	@# pip -q hides the build's own warnings: say which native modules did not build
	@# (none found, or one older than its source: a failed rebuild leaves the old one).
	@$(BIN)/python -c "import glob, os, importlib.util as u; s = lambda p: u.find_spec('native.' + p[7:-4]); m = [p[7:-4] for p in sorted(glob.glob('native/*.pyx')) if s(p) is None or os.path.getmtime(s(p).origin) < os.path.getmtime(p)]; print('native extensions: ' + ('all built' if not m else 'NOT built: %s (their pure-Python twins run instead)' % ', '.join(m)))"
	touch $(STAMP)

install: $(STAMP)

# The modules' bytecode, written here once: under PYTHONDONTWRITEBYTECODE every server
# process (a test starts hundreds) would compile them all again, 0.5 s of CPU each.
bytecode: install
	@PYTHONDONTWRITEBYTECODE= $(BIN)/python -m compileall -q server protocol persistence cluster native

run: bytecode
	$(BIN)/pyredis-server ./redis.conf

# The whole suite twice: on the native twins, then on their pure-Python twins.
test: bytecode
	PYREDIS_PURE= $(BIN)/python -m pytest -q tests
	PYREDIS_PURE=1 $(BIN)/python -m pytest -q tests

# matplotlib draws the ratio chart; a benchmark-only dependency, never a runtime one.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q matplotlib
	touch $(BENCH_STAMP)

# Options through BENCH_ARGS, e.g. make bench BENCH_ARGS=--quick
bench: install $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

bench-memory: install
	$(BIN)/python benchmarks/memory.py $(BENCH_ARGS)

# The PING-every-ms probe beside Redis under four loads, e.g. BENCH_ARGS=--quick
bench-latency: install
	$(BIN)/python benchmarks/latency.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info native/*.c native/*.so
