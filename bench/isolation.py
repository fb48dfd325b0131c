"""Each benchmarked training in a fresh process: what one run changes process-wide (the allocator settings of
`trainer_common.cpu_memory`, imported modules, the heap's state) must not speed up or slow down the next run."""

import concurrent.futures
import multiprocessing


def in_fresh_process(function, *args):
    """`function(*args)` in a new spawned Python process; its return value."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()
