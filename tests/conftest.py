"""Shared fixtures. The helpers behind them live in `helpers.py`, which test files import directly."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One thread per process: the tiny models run as fast, and the test processes (pytest -n workers, the scripts they
# start) then share the cores instead of spinning against each other's thread pools.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from helpers import make_encoder_dir, make_tokenizer  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture
def tiny_tokenizer(tmp_path):
    return make_tokenizer(tmp_path)


@pytest.fixture
def tiny_encoder_dir(tmp_path):
    return make_encoder_dir(tmp_path)
