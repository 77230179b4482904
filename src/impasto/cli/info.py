"""`impasto info` (edge): versions, devices, the weights file and its hash, the cache folder."""

from __future__ import annotations

import platform

import typer


def device_lines() -> list[str]:
    """One line per device type: what it is, or why it is missing."""
    import torch

    from ..runtime import available_devices, bf16_native, onednn_isa_cap

    bf16 = "native bf16 (auto: bf16)" if bf16_native(torch.device("cpu")) else "no native bf16 (auto: fp32)"
    if cap := onednn_isa_cap():
        bf16 += f", ONEDNN_MAX_CPU_ISA={cap}"
    lines = [f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {bf16}"]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            lines.append(f"cuda:{i}: {props.name}, {props.total_memory / 2**30:.0f} GiB")
    else:
        lines.append(f"cuda: none ({'no CUDA in this torch build' if torch.version.cuda is None else 'no GPU found'})")
    lines.append("mps: available" if available_devices()["mps"] else "mps: none")
    return lines


def report() -> list[tuple[str, str]]:
    """(label, value) rows for `impasto info`: versions, devices, weights and cache."""
    import PIL
    import torch

    from .._version import __version__
    from ..nst.vgg import WEIGHTS_SHA256, default_weights_path, sha256_of
    from ..runtime import cache_dir

    rows = [
        ("impasto", __version__),
        ("python", platform.python_version()),
        ("torch", torch.__version__),
        ("pillow", PIL.__version__),
    ]
    rows += [("device", line) for line in device_lines()]
    try:
        path = default_weights_path()
        digest = sha256_of(path)
        verdict = "verified" if digest == WEIGHTS_SHA256 else f"MISMATCH, expected {WEIGHTS_SHA256}"
        rows += [("weights", str(path)), ("sha256", f"{digest} ({verdict})")]
    except (ValueError, OSError) as err:
        rows.append(("weights", f"not found: {err}"))
    rows.append(("cache", str(cache_dir())))
    return rows


def info() -> None:
    """Show versions, devices, the weights file and its hash, and the cache folder."""
    rows = report()
    width = max(len(label) for label, _ in rows)
    typer.echo("\n".join(f"{label:<{width}}  {value}" for label, value in rows))
