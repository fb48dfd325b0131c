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


# The files that run longest (processes of their own: torchrun, the real scripts, W&B), handed out first under
# `pytest -n --dist loadfile`, so that no worker is left running one of them alone at the end. Out of date, it only
# balances less well.
LONGEST_FIRST = (
    "test_torchrun.py",
    "test_bf16_torchrun.py",
    "test_tracebacks.py",
    "test_output_folder.py",
    "test_wandb.py",
    "test_run_safety.py",
    "test_wrong_way_errors.py",
    "test_model_card.py",
)


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False  # the order below, not xdist's (the files with most tests first)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the workers' order is the one the files are handed out in
        rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
        items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its order
