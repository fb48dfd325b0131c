"""bf16 on the CPU: whether it has bf16 units, a warning where it has none, and a measured hint where it has them.

torch is imported only inside the functions that time matmuls: `--help` stays fast.
"""

import logging
import statistics
import time

logger = logging.getLogger(__name__)

CPUINFO = "/proc/cpuinfo"
CPU_BF16_FLAGS = {"amx_bf16": "AMX-BF16", "avx512_bf16": "AVX512-BF16"}  # flag: name; matrix units first
MIN_SPEEDUP = 1.3  # below it the hint is not worth a line: the rest of the step takes most of the gain
ROWS = 1024  # tokens (or images) of the timed matmul: a batch's worth


def cpu_flags(path: str | None = None) -> set[str] | None:
    """The CPU's flags from `/proc/cpuinfo` (or `path`); None where it cannot be read (not Linux)."""
    try:
        with open(path or CPUINFO) as cpuinfo:
            return set(next((line for line in cpuinfo if line.startswith("flags")), "").split())
    except OSError:
        return None


def warn_without_bf16_units() -> None:
    """--bf16 on a CPU without bf16 units is emulated, slower than float32: say so rather than crawl in silence."""
    flags = cpu_flags()
    if flags is not None and not flags & set(CPU_BF16_FLAGS):
        logger.warning(
            "--bf16 on a CPU without bf16 units (no %s in /proc/cpuinfo): it is emulated there, slower than float32",
            " or ".join(CPU_BF16_FLAGS),
        )


def wants_bf16_hint(flags: set[str] | None, on_cpu: bool, precision_given: bool) -> bool:
    """Whether to time bf16 against float32: training on a CPU with bf16 units, and no precision flag given."""
    return on_cpu and not precision_given and bool(flags and flags & set(CPU_BF16_FLAGS))


def bf16_hint(flags: set[str], speedup: float, shape: tuple[int, int, int]) -> str | None:
    """The hint's line for a measured bf16-over-float32 matmul `speedup` of `shape` (rows, in, out), or None when
    the speedup is too small to mention. Names only what was measured: the matmul, not the training step."""
    if not speedup > MIN_SPEEDUP:
        return None
    units = next(name for flag, name in CPU_BF16_FLAGS.items() if flag in flags)
    rows, inner, out = shape
    return (
        f"this CPU has {units}: a bfloat16 matmul of this model's largest layer ({rows}x{inner} @ {inner}x{out}) "
        f"runs {speedup:.1f}x faster than float32 here; --bf16 true trains in mixed precision (not turned on unless "
        "asked)"
    )


def matmul_speedup(inner: int, out: int, rows: int = ROWS, repeats: int = 5) -> float:
    """Median float32 time over median bfloat16 time of a `(rows x inner) @ (inner x out)` matmul on this CPU."""
    import torch

    def median_seconds(dtype) -> float:
        numbers = torch.Generator().manual_seed(0)  # its own: the run's random state (init, data order) untouched
        a, b = (torch.randn(*shape, generator=numbers).to(dtype) for shape in ((rows, inner), (inner, out)))
        torch.matmul(a, b)  # the first call picks and builds its kernel
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            torch.matmul(a, b)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    return median_seconds(torch.float32) / median_seconds(torch.bfloat16)


def largest_linear(model) -> tuple[int, int] | None:
    """`(in_features, out_features)` of the model's largest `nn.Linear` (by weights), or None without one."""
    from torch import nn

    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not layers:
        return None
    layer = max(layers, key=lambda m: m.in_features * m.out_features)
    return layer.in_features, layer.out_features


def log_bf16_hint(model, training_args) -> None:
    """Once, on the main process before training on a CPU with bf16 units and no precision flag: an INFO line
    with how much faster a bf16 matmul of the model's largest layer runs here, measured (a fraction of a second),
    when it is more than `MIN_SPEEDUP` times faster. The precision is never changed."""
    if training_args.process_index != 0:
        return
    given = any(getattr(training_args, name, False) for name in ("bf16", "fp16", "bf16_full_eval", "fp16_full_eval"))
    flags = cpu_flags()
    if not wants_bf16_hint(flags, training_args.device.type == "cpu", given):
        return
    layer = largest_linear(model)
    if layer is None:
        return
    message = bf16_hint(flags, matmul_speedup(*layer), (ROWS, *layer))
    if message:
        logger.info(message)
