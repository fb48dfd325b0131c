"""Range checks of command-line values, run when the arguments are parsed: before any data is read or step trained."""

import math

from .errors import InputError


def check_range(option: str, value, low=None, high=None, *, above: bool = False, below: bool = False) -> None:
    """`InputError` naming `--option` and its valid range unless `value` is None or a finite number in `[low, high]`;
    `above` excludes `low`, `below` excludes `high`."""
    if value is None:
        return
    interval = f"{'(' if above else '['}{low}, {high}{')' if below else ']'}" if None not in (low, high) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        if interval:
            valid = f" in {interval}"
        elif low is not None:
            valid = f" {'above' if above else 'at least'} {low}"
        elif high is not None:
            valid = f" {'below' if below else 'at most'} {high}"
        else:
            valid = ""
        raise InputError(f"--{option} must be a finite number{valid}, got {value!r}")
    suffix = f" (valid: {interval})" if interval else ""
    if low is not None and (value <= low if above else value < low):
        raise InputError(f"--{option} must be {'above' if above else 'at least'} {low}, got {value}{suffix}")
    if high is not None and (value >= high if below else value > high):
        raise InputError(f"--{option} must be {'below' if below else 'at most'} {high}, got {value}{suffix}")
