"""Range checks of command-line values, run when the arguments are parsed: before any data is read or step trained."""

import math

from .errors import InputError


def check_range(option: str, value, low=None, high=None, *, above: bool = False) -> None:
    """`InputError` naming `--option` unless `value` is None or a finite number in `[low, high]` (`(low, high]`
    with `above`)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"--{option} must be a finite number, got {value!r}")
    if low is not None and (value <= low if above else value < low):
        raise InputError(f"--{option} must be {'above' if above else 'at least'} {low}, got {value}")
    if high is not None and value > high:
        raise InputError(f"--{option} must be at most {high}, got {value}")
