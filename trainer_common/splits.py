"""A validation split carved from the training data by seed, the same draw for every task."""

import logging

from .errors import InputError

logger = logging.getLogger(__name__)


def split_off_validation(splits: dict, fraction: float, seed: int) -> tuple[list, list]:
    """(train, validation): `round(fraction * n)` training examples drawn at random by `seed` (the first ones of
    `numpy.random.default_rng(seed).permutation(n)`) become the validation split; both keep the file's order."""
    import numpy as np

    if splits.get("validation"):
        raise InputError("--validation_split carves a validation split from train, but validation data was given")
    train = splits.get("train")
    if not train:
        raise InputError("--validation_split needs training data to split")
    size = round(fraction * len(train))
    if not 0 < size < len(train):
        raise InputError(f"--validation_split {fraction} of {len(train)} training examples leaves a split empty")
    held_out = set(np.random.default_rng(seed).permutation(len(train))[:size].tolist())
    logger.info("validation split: %d of %d training examples, drawn with seed %d", size, len(train), seed)
    return (
        [example for i, example in enumerate(train) if i not in held_out],
        [example for i, example in enumerate(train) if i in held_out],
    )
