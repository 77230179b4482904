"""What this machine offers impasto: devices, precision, the allocator, the memory budget, the
cache folder, and the asynchronous copy of loss terms to the host. Imports torch only.

No side effects: nothing is created here; callers create the cache folder when they write to it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch


def available_devices() -> dict[str, bool]:
    """{device type: usable now}, in the order `auto` prefers them."""
    mps = getattr(torch.backends, "mps", None)
    return {
        "cuda": torch.cuda.is_available(),
        "mps": mps is not None and mps.is_available(),
        "cpu": True,
    }


def resolve_device(device: str) -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an explicit device must be available (ValueError)."""
    available = available_devices()
    if device == "auto":
        return torch.device(next(name for name, ok in available.items() if ok))
    if device not in available:
        raise ValueError(f"device must be one of auto, {', '.join(available)}; got {device!r}")
    if not available[device]:
        raise ValueError(f"device {device!r} is not available on this machine (see `impasto info`)")
    return torch.device(device)


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            return next((set(line.split(":", 1)[1].split()) for line in f if line.startswith("flags")), set())
    except OSError:  # not Linux
        return set()


# oneDNN's instruction sets, in its order (dnnl_cpu_isa_t); ONEDNN_MAX_CPU_ISA (or the older
# DNNL_MAX_CPU_ISA) caps what it may use, so one machine can run another machine's arithmetic.
# AVX10_1_512 is AVX512_CORE_FP16's newer name, AVX10_1_512_AMX AVX512_CORE_AMX's.
_ONEDNN_ISAS = (
    "SSE41",
    "AVX",
    "AVX2",
    "AVX2_VNNI",
    "AVX2_VNNI_2",
    "AVX512_CORE",
    "AVX512_CORE_VNNI",
    "AVX512_CORE_BF16",
    "AVX512_CORE_FP16",
    "AVX10_1_512",
    "AVX512_CORE_AMX",
    "AVX10_1_512_AMX",
    "AVX512_CORE_AMX_FP16",
    "AVX10_1_512_AMX_FP16",
    "AVX10_2_512",
    "AVX10_2_512_AMX_2",
)
_FIRST_BF16_ISA = _ONEDNN_ISAS.index("AVX512_CORE_BF16")


def onednn_isa_cap() -> str | None:
    """The instruction set that ONEDNN_MAX_CPU_ISA (or DNNL_MAX_CPU_ISA) caps oneDNN at, upper
    case; None when neither is set or it says ALL/DEFAULT (oneDNN then uses the CPU's best)."""
    value = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").strip().upper()
    return None if value in ("", "ALL", "DEFAULT") else value


def bf16_native(device: torch.device) -> bool:
    """Whether `device` computes bf16 convolutions natively (so bf16 is faster, not emulated).

    On the CPU: the CPU has avx512_bf16 or AMX, and oneDNN may use them (ONEDNN_MAX_CPU_ISA at
    AVX512_CORE_BF16 or above, or unset). Below that oneDNN would emulate bf16 on avx512_core or
    send it to reference kernels, both slower than fp32 (docs/cli.md#precision).
    """
    if device.type == "cuda":  # Ampere (8.x) and newer; older GPUs only emulate bf16, slowly
        return torch.cuda.get_device_properties(device).major >= 8
    if device.type == "cpu":
        if not {"avx512_bf16", "amx_bf16"} & _cpu_flags():
            return False
        cap = onednn_isa_cap()
        # An unknown name: oneDNN ignores it and uses the CPU's best, so the flags decide.
        return cap is None or cap not in _ONEDNN_ISAS or _ONEDNN_ISAS.index(cap) >= _FIRST_BF16_ISA
    return False  # mps: bf16 support depends on the OS version; fp32 is the safe choice


_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """The dtype of the network's convolutions: 'auto' is bf16 where native (see bf16_native)."""
    if precision == "auto":
        return torch.bfloat16 if bf16_native(device) else torch.float32
    if precision not in _DTYPES:
        raise ValueError(f"precision must be one of auto, {', '.join(_DTYPES)}; got {precision!r}")
    return _DTYPES[precision]


def precision_name(dtype: torch.dtype) -> str:
    """A resolved precision as the options spell it: "fp32", "bf16" (else the dtype's own name)."""
    return next((name for name, known in _DTYPES.items() if known == dtype), str(dtype).removeprefix("torch."))


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3


def tune_allocator() -> bool:
    """Make glibc keep and reuse freed memory instead of returning it to the kernel at once.

    Every iteration allocates and frees the same activation tensors. By default glibc serves big
    blocks with fresh mmaps and trims the heap when they are freed, so each iteration faults its
    working set back in page by page (millions of page faults per run). Raising the mmap threshold
    to glibc's maximum (32 MiB) and the trim threshold to 1 GiB keeps that memory in the heap.
    Process-wide: called by the CLI, never at import; long-running callers may call it too.
    Returns whether it applied (False off glibc).
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return all(
        mallopt(param, value) == 1
        for param, value in ((_M_MMAP_THRESHOLD, 32 << 20), (_M_TRIM_THRESHOLD, 1 << 30), (_M_TOP_PAD, 64 << 20))
    )


def _total_ram() -> int:
    """Physical memory in bytes (cgroup limits included where the kernel reports one)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            value = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if value.isdigit():
            total = min(total, int(value))
    return total


# A quarter of the RAM: the machine keeps working (browser, editor) while a big image renders,
# and the estimate (engine/memory.py) is a fit, not a bound. On a GPU the run owns the card.
_RAM_SHARE, _VRAM_SHARE = 0.25, 0.8


def memory_budget(device: torch.device) -> int:
    """The default max_memory for a run on `device`, in bytes: a safe share of its RAM or VRAM."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory * _VRAM_SHARE)
    return int(_total_ram() * _RAM_SHARE)


def release_free_memory() -> None:
    """Give freed heap memory back to the system (glibc malloc_trim), e.g. between two scales:
    a finished scale's small buffers (L-BFGS pairs under the mmap threshold) would otherwise stay
    in the process's resident size for the rest of the run. A no-op elsewhere."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def cache_dir() -> Path:
    """$IMPASTO_CACHE, else `impasto` in the user's cache folder: $XDG_CACHE_HOME or ~/.cache on
    Linux, ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows (not created here)."""
    if os.environ.get("IMPASTO_CACHE"):
        return Path(os.environ["IMPASTO_CACHE"]).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "impasto"


class HostCopy:
    """Loss terms copied to the host as soon as they exist, read after the optimizer's step.

    On CUDA the copy is asynchronous into pinned memory and reading waits only for that copy,
    not for the optimizer's kernels queued after it: the step's own sync is the only stall.
    """

    def __init__(self, n: int, device: torch.device):
        self.cuda, self.device = device.type == "cuda", device
        self.buffer = torch.empty(n, dtype=torch.float32, pin_memory=self.cuda)
        self.event = torch.cuda.Event() if self.cuda else None

    def put(self, values: torch.Tensor) -> None:
        self.buffer.copy_(values.float(), non_blocking=self.cuda)
        if self.event is not None:  # on the stream of the tensors' own GPU, not the current one
            self.event.record(torch.cuda.current_stream(self.device))

    def get(self) -> list[float]:
        if self.event is not None:
            self.event.synchronize()
        return self.buffer.tolist()
