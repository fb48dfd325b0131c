"""VAE: loss arithmetic, IDX reading, training through run_vae.py, outputs, save/load and remote-code loading."""

import gzip
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import idx_bytes, run_without_project, write_mnist
from PIL import Image

import run_vae
from trainer_common.cli import run_cli
from trainer_common.errors import InputError
from trainer_common.plots import CHAR_WIDTH, LABEL_HEIGHT
from vae_trainer import VAEConfig, VAEModel
from vae_trainer.data import find_idx_file, load_idx_split, read_idx

# ---- model and loss -------------------------------------------------------------------------------------------


def test_shapes_and_loss_arithmetic():
    torch.manual_seed(0)
    model = VAEModel(VAEConfig())
    x = torch.rand(5, 784)
    out = model(x)
    assert out.reconstruction.shape == (5, 784)
    assert out.mean.shape == out.logvar.shape == (5, 20)
    assert out.reconstruction.min() >= 0 and out.reconstruction.max() <= 1

    # KL(N(mu, sigma^2) || N(0, 1)) per dimension = (sigma^2 + mu^2 - 1 - log sigma^2) / 2, by hand.
    mu, logvar = out.mean.detach().double(), out.logvar.detach().double()
    kl_by_hand = (
        sum(
            0.5 * (np.exp(lv) + m**2 - 1 - lv)
            for row_m, row_lv in zip(mu.tolist(), logvar.tolist())
            for m, lv in zip(row_m, row_lv)
        )
        / 5
    )
    assert out.kl_loss.item() == pytest.approx(kl_by_hand, rel=1e-5)

    bce = F.binary_cross_entropy(out.reconstruction, x, reduction="sum") / 5
    assert out.recon_loss.item() == pytest.approx(bce.item(), rel=1e-6)
    assert out.loss.item() == pytest.approx(out.recon_loss.item() + out.kl_loss.item(), rel=1e-6)


def test_kl_weight_and_gaussian_init():
    model = VAEModel(VAEConfig(kl_weight=0.5, initializer_range=0.05))
    for layer in (model.encoder, model.mean_head, model.logvar_head, model.decoder_hidden, model.decoder_out):
        assert layer.weight.std().item() == pytest.approx(0.05, rel=0.1)
        assert torch.all(layer.bias == 0)
    out = model(torch.rand(3, 784))
    assert out.loss.item() == pytest.approx(out.recon_loss.item() + 0.5 * out.kl_loss.item(), rel=1e-6)
    assert model.sample(4).shape == (4, 28, 28)
    assert model(torch.rand(2, 28, 28), return_loss=False).loss is None


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="latent_dim"):
        VAEConfig(latent_dim=0)
    with pytest.raises(ValueError, match="image_size"):
        VAEConfig(input_dim=100)


# ---- IDX reading ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("dot_spelling", [True, False])
def test_idx_reader_gz_raw_and_both_spellings(tmp_path, gz, dot_spelling):
    write_mnist(tmp_path, n_train=7, n_test=3, gz=gz, dot_spelling=dot_spelling)
    pixels, labels = load_idx_split(tmp_path, "train")
    assert pixels.shape == (7, 784) and pixels.dtype == torch.float32
    assert labels.shape == (7,)
    assert 0.0 <= pixels.min() and pixels.max() == 1.0
    raw = read_idx(find_idx_file(tmp_path, "test", "images"))
    assert raw.shape == (3, 28, 28) and raw.dtype == np.uint8


def test_idx_errors_name_the_file(tmp_path):
    write_mnist(tmp_path, n_train=4, n_test=2, gz=False)
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: truncated"):
        load_idx_split(tmp_path, "train")
    images.write_bytes(b"\x00\x00\x08\x99" + b"\x00" * 20)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: bad magic number 0x00000899"):
        read_idx(images)
    with pytest.raises(InputError, match=r"no MNIST test labels file in .*t10k-labels-idx1-ubyte"):
        find_idx_file(tmp_path / "nowhere", "test", "labels")


def test_idx_images_of_another_size_are_refused(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((3, 32, 32))))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(3)))
    with pytest.raises(InputError, match=r"train images are 32x32, expected MNIST's 28x28"):
        load_idx_split(tmp_path, "train")


# ---- training through run_vae.py ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """Two epochs through the real entry point on synthetic IDX files."""
    from vae_trainer.train import main

    tmp = tmp_path_factory.mktemp("vae")
    data = write_mnist(tmp / "data")
    out = tmp / "run"
    results = main(
        [
            "--data_dir",
            str(data),
            "--output_dir",
            str(out),
            "--num_train_epochs",
            "2",
            "--per_device_train_batch_size",
            "32",
            "--logging_steps",
            "2",
            "--hidden_dim",
            "64",
            "--latent_dim",
            "4",
            "--initializer_range",
            "0.05",
            "--learning_rate",
            "0.01",
            "--disable_tqdm",
            "true",
            "--report_to",
            "none",
        ]
    )
    return out, results, data


def test_training_lowers_the_loss_and_logs_components(trained_run):
    out, results, _ = trained_run
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    train_logs = [entry for entry in history if "loss" in entry]
    eval_logs = [entry for entry in history if "eval_loss" in entry]
    assert len(train_logs) >= 4 and len(eval_logs) == 2
    assert train_logs[-1]["loss"] < 0.7 * train_logs[0]["loss"]
    for entry in train_logs:
        assert {"recon_loss", "kl_loss"} <= entry.keys()
        assert entry["recon_loss"] + entry["kl_loss"] == pytest.approx(entry["loss"], rel=0.02)
    for entry in eval_logs:
        assert {"eval_recon_loss", "eval_kl_loss"} <= entry.keys()
        assert entry["eval_recon_loss"] + entry["eval_kl_loss"] == pytest.approx(entry["eval_loss"], rel=1e-3)
    saved = json.loads((out / "all_results.json").read_text())
    assert saved["test_loss"] == pytest.approx(results["test_loss"])
    assert saved["test_recon_loss"] + saved["test_kl_loss"] == pytest.approx(saved["test_loss"], rel=1e-3)


def test_the_elbo_is_recon_plus_kl_whatever_the_kl_weight(tmp_path):
    from vae_trainer.train import main

    data = write_mnist(tmp_path / "data", n_train=64, n_test=32)
    argv = ["--data_dir", data, "--output_dir", tmp_path / "run", "--num_train_epochs", "1", "--kl_weight", "0.25",
            "--hidden_dim", "32", "--latent_dim", "4", "--report_to", "none", "--disable_tqdm", "true"]  # fmt: skip
    results = main([str(a) for a in argv])
    recon, kl = results["test_recon_loss"], results["test_kl_loss"]
    assert kl > 0.01  # the weighted objective and the ELBO differ measurably
    assert results["test_loss"] == pytest.approx(recon + 0.25 * kl, rel=1e-3)  # what training minimised
    assert results["test_elbo_per_image"] == pytest.approx(-(recon + kl), rel=1e-6)


def test_outputs_are_images_of_the_right_size(trained_run):
    out, _, _ = trained_run
    with Image.open(out / "samples.png") as grid:  # 10 digits of 84 px, 2 px gaps, a label row above
        assert grid.size == (10 * 86 + 2, LABEL_HEIGHT + 86 + 2)
        pixels = np.asarray(grid)
        assert (pixels[:LABEL_HEIGHT] < 128).any(), "no label text"
        digit = pixels[LABEL_HEIGHT + 2 : LABEL_HEIGHT + 2 + 84, 2 : 2 + 84]
        assert (digit == digit[::3, ::3].repeat(3, 0).repeat(3, 1)).all()  # each pixel a 3x3 block, no blur
    for i in range(10):
        with Image.open(out / "samples" / f"sample_{i}.png") as digit:
            assert digit.size == (28, 28)
    with Image.open(out / "reconstructions.png") as recon:  # "recon" labels a row: 5 characters on the left
        assert recon.size == (5 * CHAR_WIDTH + 2 + 10 * 86 + 2, 2 * 86 + 2)
    with Image.open(out / "loss_curves.png") as curves:
        assert curves.format == "PNG" and curves.info["dpi"][0] == pytest.approx(150, abs=1)
        assert curves.size[0] >= 2 * 5.5 * 150 - 10
    assert not list(out.rglob(".*.png")), "temporary files left behind"


def test_save_load_round_trip_gives_identical_outputs(trained_run):
    from transformers import AutoModel

    out, _, _ = trained_run
    model = VAEModel.from_pretrained(out).eval()
    loaded = AutoModel.from_pretrained(out).eval()
    assert type(loaded) is VAEModel
    x = torch.rand(3, 784)
    torch.manual_seed(7)
    expected = model(x)
    torch.manual_seed(7)
    actual = loaded(x)
    torch.testing.assert_close(actual.reconstruction, expected.reconstruction, rtol=0, atol=0)
    torch.testing.assert_close(actual.loss, expected.loss, rtol=0, atol=0)
    a = model.sample(5, generator=torch.Generator().manual_seed(3))
    b = loaded.sample(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_trust_remote_code_in_a_fresh_process(trained_run, tmp_path):
    out, _, _ = trained_run
    script = f"""
import torch
from transformers import AutoModel
model = AutoModel.from_pretrained({str(out)!r}, trust_remote_code=True).eval()
assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
torch.manual_seed(0)
print(float(model(torch.full((1, 784), 0.5)).reconstruction.sum()))
"""
    proc = run_without_project(script, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    model = VAEModel.from_pretrained(out).eval()
    torch.manual_seed(0)
    expected = float(model(torch.full((1, 784), 0.5)).reconstruction.sum())
    assert float(proc.stdout.strip().splitlines()[-1]) == pytest.approx(expected, rel=1e-6)


def test_generate_command(trained_run, tmp_path):
    out, _, _ = trained_run
    argv = ["generate", "--model", str(out), "--num_samples", "4", "--output", str(tmp_path)]
    assert run_cli(run_vae.COMMANDS, default="train", argv=argv) == 0  # in process: run_vae.py exits with this
    with Image.open(tmp_path / "samples.png") as grid:
        assert grid.size == (4 * 86 + 2, LABEL_HEIGHT + 86 + 2)
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [f"sample_{i}.png" for i in range(4)]


def test_cli_errors_are_clear_and_nonzero(tmp_path, capsys):
    def stderr_of(*argv: str) -> str:
        """`run_vae.py argv` in process (the script exits with `run_cli`'s status): its stderr, after exit 2."""
        assert run_cli(run_vae.COMMANDS, default="train", argv=list(argv)) == 2
        return capsys.readouterr().err

    data = write_mnist(tmp_path / "data", n_train=4, n_test=2)
    (data / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 8))
    stderr = stderr_of("--data_dir", str(data), "--output_dir", str(tmp_path / "out"))
    assert "error:" in stderr and "t10k-images-idx3-ubyte.gz" in stderr and "truncated" in stderr

    stderr = stderr_of("generate", "--model", str(tmp_path / "missing"), "--output", str(tmp_path))
    assert "missing: no such folder" in stderr

    corrupt = tmp_path / "corrupt"
    VAEModel(VAEConfig(hidden_dim=8, latent_dim=2)).save_pretrained(corrupt)
    (corrupt / "model.safetensors").write_bytes(b"not a safetensors file")
    stderr = stderr_of("generate", "--model", str(corrupt), "--output", str(tmp_path))
    assert "could not load" in stderr and "SafetensorError" in stderr, stderr
