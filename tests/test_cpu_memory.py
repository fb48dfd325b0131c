"""`trainer_common.cpu_memory`: freed memory stays with a training process, so the next step reuses it."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Resident memory after a 200 MB tensor is touched and freed; the setting is process-wide: one process per case.
SCRIPT = """
import os, sys, torch
sys.path.insert(0, {root!r})
from trainer_common.cpu_memory import keep_freed_memory
kept = keep_freed_memory()
def resident_mb():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
before = resident_mb()
x = torch.ones(50_000_000)
del x
print(kept, resident_mb() - before)
"""


def freed_memory_kept(env_extra=None) -> tuple[bool, float]:
    import os

    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    env.pop("LD_PRELOAD", None)
    env.update(env_extra or {})
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(root=str(ROOT))], capture_output=True, text=True,
                         env=env, check=True).stdout.split()  # fmt: skip
    return out[0] == "True", float(out[1])


def test_freed_memory_stays_resident_for_reuse():
    kept, resident_after_free = freed_memory_kept()
    assert kept
    assert resident_after_free > 150  # the 200 MB are still the process's, ready for the next step


def test_a_users_malloc_setting_is_left_alone():
    kept, resident_after_free = freed_memory_kept({"MALLOC_TRIM_THRESHOLD_": "131072"})
    assert not kept
    assert resident_after_free < 50  # glibc's default: the block went back to the kernel
