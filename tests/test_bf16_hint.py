"""The bf16 hint and warning (`trainer_common.precision`): when they speak, what they say, and that a real run on a
CPU without bf16 units says nothing and a run with them changes no precision."""

import logging

import pytest
import torch
from helpers import one_thread, write_mnist  # noqa: F401 (an autouse fixture)
from test_run_safety import run, vae_args

from trainer_common import precision

NO_BF16 = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma avx512f\n"
AVX512_BF16 = NO_BF16.replace("avx512f", "avx512f avx512_bf16")
AMX = AVX512_BF16.replace("avx512_bf16", "avx512_bf16 amx_tile amx_bf16")


@pytest.fixture
def cpuinfo(tmp_path, monkeypatch):
    """Point `precision` at a /proc/cpuinfo of the given text."""

    def use(text: str):
        path = tmp_path / "cpuinfo"
        path.write_text(text)
        monkeypatch.setattr(precision, "CPUINFO", str(path))

    return use


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("mnist"), n_train=32, n_test=8)


def hints(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == precision.__name__ and "matmul" in r.getMessage()]


def test_cpu_flags_are_read_from_cpuinfo(cpuinfo, tmp_path):
    cpuinfo(AMX)
    assert {"amx_bf16", "avx512_bf16", "avx512f"} <= precision.cpu_flags()
    assert precision.cpu_flags(str(tmp_path / "missing")) is None  # not Linux: nothing to go by


@pytest.mark.parametrize(
    "flags, on_cpu, given, wanted",
    [
        ({"avx512_bf16"}, True, False, True),
        ({"amx_bf16", "avx512_bf16"}, True, False, True),
        ({"avx512f", "avx2"}, True, False, False),  # no bf16 units: nothing to gain
        ({"avx512_bf16"}, False, False, False),  # a GPU trains
        ({"avx512_bf16"}, True, True, False),  # --bf16 or --fp16 given
        (None, True, False, False),  # flags unknown
    ],
)
def test_the_hint_is_measured_only_on_a_cpu_with_bf16_units_and_no_precision_flag(flags, on_cpu, given, wanted):
    assert precision.wants_bf16_hint(flags, on_cpu, given) is wanted


def test_the_hint_names_the_units_and_the_measured_speedup_only_above_the_threshold():
    shape = (1024, 384, 1536)
    assert precision.bf16_hint({"avx512_bf16"}, 1.3, shape) is None  # not more than 1.3x: no line
    assert precision.bf16_hint({"avx512_bf16"}, 0.8, shape) is None
    line = precision.bf16_hint({"avx512_bf16"}, 2.44, shape)
    assert line.startswith("this CPU has AVX512-BF16: a bfloat16 matmul of this model's largest layer")
    assert "(1024x384 @ 384x1536) runs 2.4x faster than float32 here" in line and "--bf16 true" in line
    assert "has AMX-BF16:" in precision.bf16_hint({"avx512_bf16", "amx_bf16"}, 9.1, shape)


def test_the_measurement_times_real_matmuls_without_touching_the_runs_random_state():
    state = torch.get_rng_state()
    speedup = precision.matmul_speedup(64, 128, rows=64, repeats=3)
    assert speedup > 0 and speedup != float("inf")
    assert torch.equal(torch.get_rng_state(), state)  # the run's init and data order are as without the hint
    model = torch.nn.Sequential(torch.nn.Linear(784, 400), torch.nn.ReLU(), torch.nn.Linear(400, 20))
    assert precision.largest_linear(model) == (784, 400)
    assert precision.largest_linear(torch.nn.ReLU()) is None


def test_bf16_on_a_cpu_without_bf16_units_warns(cpuinfo, caplog):
    cpuinfo(NO_BF16)
    precision.warn_without_bf16_units()
    assert ["emulated there, slower than float32" in r.getMessage() for r in caplog.records] == [True]
    caplog.clear()
    cpuinfo(AVX512_BF16)
    precision.warn_without_bf16_units()
    assert not caplog.records


def test_a_run_on_a_cpu_without_bf16_units_logs_no_hint(data, tmp_path, cpuinfo, caplog):
    cpuinfo(NO_BF16)
    run(vae_args(data, tmp_path / "run", "--num_train_epochs", "1"))
    assert any("optimisation steps" in r.getMessage() for r in caplog.records)  # INFO lines do reach caplog
    assert not [r for r in caplog.records if r.name == precision.__name__]


def test_a_run_with_bf16_units_hints_once_and_stays_float32(data, tmp_path, cpuinfo, caplog, monkeypatch):
    """The measured speedup is fixed here (the CI's CPU may have no bf16 units); the rest is the real run."""
    cpuinfo(AVX512_BF16)
    timed = []
    monkeypatch.setattr(precision, "matmul_speedup", lambda inner, out: timed.append((inner, out)) or 2.5)
    run(vae_args(data, tmp_path / "run", "--num_train_epochs", "1"))
    assert timed == [(784, 16)]  # the VAE's largest layer at --hidden_dim 16: the image to the hidden layer
    assert hints(caplog) == [
        "this CPU has AVX512-BF16: a bfloat16 matmul of this model's largest layer (1024x784 @ 784x16) runs 2.5x "
        "faster than float32 here; --bf16 true trains in mixed precision (not turned on unless asked)"
    ]
    assert not torch.load(tmp_path / "run" / "training_args.bin", weights_only=False).bf16  # never switched
    caplog.clear()
    run(vae_args(data, tmp_path / "bf16", "--num_train_epochs", "1", "--bf16", "true"))
    assert len(timed) == 1 and not hints(caplog)  # asked for a precision: nothing to hint
    assert caplog.records and logging.WARNING not in {r.levelno for r in caplog.records if "bf16" in r.getMessage()}
