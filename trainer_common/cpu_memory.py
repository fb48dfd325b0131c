"""Training on a CPU without paying the kernel for the same memory every step.

glibc's `malloc` serves a large block (above 128 KiB at first, 32 MiB at most) with a fresh `mmap` and returns it
to the kernel when freed. A training step frees and allocates the same large tensors every step (a MiniLM's dense
30522-row embedding gradient alone is 47 MB), so every step faults every page of them in again, zeroed by the
kernel: a fresh 47 MB `torch.zeros` takes 14 ms here where zeroing a resident one takes 1.2 ms. With `mmap` off and
the heap's top kept, freed blocks are reused instead: a MiniLM step is 10 to 20% faster (bench/step_profile.py).

The cost: memory freed during training stays with the process (its peak stays resident) until training ends, when
glibc's defaults come back and the kept memory is returned. A user who sets glibc's own `MALLOC_*` variables or
`GLIBC_TUNABLES`, or preloads another allocator, is left alone.
"""

import contextlib
import ctypes
import logging
import os
import sys

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)
DEFAULT_TRIM_THRESHOLD, DEFAULT_MMAP_MAX = 128 * 1024, 65536  # glibc's defaults, restored after training
USER_SETTINGS = (
    "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES",
)  # fmt: skip


def _glibc():
    """glibc's handle, or None: another libc, another platform, or an allocator (or settings) the user chose."""
    if sys.platform != "linux" or "LD_PRELOAD" in os.environ or any(name in os.environ for name in USER_SETTINGS):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") else None  # another libc's mallopt means other things


@contextlib.contextmanager
def freed_memory_kept():
    """While inside, glibc keeps and reuses freed memory in this process; on leaving, its defaults come back and
    the kept memory is returned (`malloc_trim`). Yields whether the setting applied."""
    libc = _glibc()
    kept = libc is not None and libc.mallopt(M_MMAP_MAX, 0) == 1
    kept = kept and libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1
    if kept:
        logger.info("training on the CPU: freed memory is kept for reuse (glibc mmap off), not faulted in each step")
    try:
        yield kept
    finally:
        if kept:
            libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
            libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
            libc.malloc_trim(0)
