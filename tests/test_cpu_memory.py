"""`trainer_common.cpu_memory`: freed memory stays with a training process, so the next step reuses it, and goes
back to the kernel when training ends."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Resident memory after a 200 MB tensor is touched and freed, inside the setting and after it; the setting is
# process-wide: one process per case.
SCRIPT = """
import os, sys, torch
sys.path.insert(0, {root!r})
from trainer_common.cpu_memory import freed_memory_kept
def resident_mb():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
before = resident_mb()
with freed_memory_kept() as kept:
    x = torch.ones(50_000_000)
    del x
    inside = resident_mb() - before
after = resident_mb() - before
x = torch.ones(50_000_000)
del x
print(kept, inside, after, resident_mb() - before)
"""


def resident_after_free(env_extra=None) -> tuple[bool, float, float, float]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    env.pop("LD_PRELOAD", None)
    env.pop("GLIBC_TUNABLES", None)
    env.update(env_extra or {})
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(root=str(ROOT))], capture_output=True, text=True,
                         env=env, check=True).stdout.split()  # fmt: skip
    return out[0] == "True", *map(float, out[1:])


def test_freed_memory_stays_resident_while_training_and_goes_back_after():
    kept, inside, after, freed_after = resident_after_free()
    assert kept
    assert inside > 150  # the 200 MB are still the process's, ready for the next step
    assert after < 50  # returned when training ended
    assert freed_after < 50  # and glibc's defaults are back: a large block goes back to the kernel when freed


def test_a_users_malloc_setting_is_left_alone():
    for setting in ({"MALLOC_TRIM_THRESHOLD_": "131072"}, {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}):
        kept, inside, _, _ = resident_after_free(setting)
        assert not kept
        assert inside < 50  # glibc's default: the block went back to the kernel
