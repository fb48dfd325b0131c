"""Training on a CPU without paying the kernel for the same memory every step.

glibc's `malloc` serves a large block (above 128 KiB at first, 32 MiB at most) with a fresh `mmap` and returns it
to the kernel when freed. A training step frees and allocates the same large tensors every step (a MiniLM's dense
30522-row embedding gradient alone is 47 MB), so every step faults every page of them in again, zeroed by the
kernel: a fresh 47 MB `torch.zeros` takes 14 ms here where zeroing a resident one takes 1.2 ms. With `mmap` off and
the heap's top kept, freed blocks are reused instead: a MiniLM step is 10 to 20% faster (bench/step_profile.py).

The cost: memory freed during training stays with the process (its peak stays resident) until it exits. A user
who sets glibc's own `MALLOC_*` variables, or preloads another allocator, is left alone.
"""

import ctypes
import logging
import os
import sys

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)
USER_SETTINGS = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_")
_kept = False


def keep_freed_memory() -> bool:
    """Make glibc keep and reuse freed memory in this process (once); False where it is not glibc, or the user
    chose the allocator's settings."""
    global _kept
    if _kept:
        return True
    if sys.platform != "linux" or "LD_PRELOAD" in os.environ or any(name in os.environ for name in USER_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version"):  # glibc only: another libc's mallopt means other things
        return False
    _kept = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1
    if _kept:
        logger.info("training on the CPU: freed memory is kept for reuse (glibc mmap off), not faulted in each step")
    return _kept
