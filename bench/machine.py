"""The machine a benchmark ran on, printed and stored with every result: CPU timings mean little without it."""

import os
import subprocess

# the flags that decide matmul speed: vector widths, bf16 vector and matrix units
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def cpu_info() -> dict:
    """The CPU's name (from `lscpu`), its CPU count, torch's thread count and which of `CPU_FLAGS` it has."""
    import torch

    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in lscpu.splitlines())}
    flags = set(fields.get("Flags", "").split())
    return {
        "model": fields.get("Model name", "?"),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "flags": [flag for flag in CPU_FLAGS if flag in flags],
    }


def describe(cpu: dict) -> str:
    """One line for the console."""
    flags = " ".join(cpu["flags"]) or "none of " + " ".join(CPU_FLAGS)
    return f"CPU: {cpu['model']}, {cpu['cpus']} CPUs, torch {cpu['torch']} on {cpu['torch_threads']} threads; {flags}"
