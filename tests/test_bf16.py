"""--bf16 on a machine without a GPU: transformers 5 asks for --use_cpu too; the toolkit does not."""

import json

import pytest
from helpers import one_thread, write_mnist  # noqa: F401 (an autouse fixture)
from safetensors.torch import load_file
from test_run_safety import run, vae_args


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("mnist"), n_train=64, n_test=16)


def test_bf16_alone_trains_on_the_cpu_and_saves_float32_weights(data, tmp_path):
    """No --use_cpu: on a machine without a GPU (CI), transformers would refuse --bf16 alone."""
    out = tmp_path / "run"
    results = run(vae_args(data, out, "--bf16", "true"))
    losses = [entry["loss"] for entry in json.loads((out / "trainer_state.json").read_text())["log_history"]
              if "loss" in entry]  # fmt: skip
    assert losses[-1] < losses[0]  # it trains
    assert {str(tensor.dtype) for tensor in load_file(str(out / "model.safetensors")).values()} == {"torch.float32"}
    fp32 = run(vae_args(data, tmp_path / "fp32"))
    assert results["test_loss"] == pytest.approx(fp32["test_loss"], rel=0.05)  # autocast's rounding, not another run
