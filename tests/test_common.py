"""Shared utilities: config-file parsing, safe writes, curve plotting and the multi-loss Trainer."""

import json
import re

import pytest
import torch
from PIL import Image
from torch import nn

from trainer_common.args import parse_args
from trainer_common.errors import InputError
from trainer_common.io import atomic_path, write_json
from trainer_common.plots import Panel, curves_figure, plot_curves, save_image_grid
from vae_trainer.train import VAEArguments, VAETrainingArguments


def test_config_file_then_flags_override(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("latent_dim: 8\nlearning_rate: '3e-4'\noutput_dir: " + str(tmp_path / "out") + "\n")
    args, training_args = parse_args((VAEArguments, VAETrainingArguments), [str(config), "--latent_dim", "4"])
    assert args.latent_dim == 4  # the flag wins
    assert training_args.learning_rate == pytest.approx(3e-4)  # a YAML string goes through the flag's type
    assert training_args.output_dir == str(tmp_path / "out")

    as_json = tmp_path / "run.json"
    as_json.write_text(json.dumps({"hidden_dim": 32, "num_train_epochs": 2}))
    args, training_args = parse_args((VAEArguments, VAETrainingArguments), [str(as_json)])
    assert args.hidden_dim == 32 and training_args.num_train_epochs == 2
    assert training_args.per_device_train_batch_size == 128  # the task's own default survives


def test_a_misspelt_or_abbreviated_flag_fails():
    for flag in ("--learning_rat", "--latent"):  # prefixes of --learning_rate and --latent_dim
        with pytest.raises(InputError, match=f"not used by the HfArgumentParser: \\['{flag}', '4'\\]"):
            parse_args((VAEArguments, VAETrainingArguments), [flag, "4"])


def test_config_file_errors_name_file_and_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("latent_dims: 8\n")
    with pytest.raises(ValueError, match=r"bad.yaml: unknown argument\(s\): latent_dims"):
        parse_args((VAEArguments, VAETrainingArguments), [str(config)])
    config.write_text("[1, 2\n")
    with pytest.raises(ValueError, match="bad.yaml: not valid YAML"):
        parse_args((VAEArguments, VAETrainingArguments), [str(config)])
    with pytest.raises(InputError, match="missing.json"):
        parse_args((VAEArguments, VAETrainingArguments), [str(tmp_path / "missing.json")])


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "result.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"a": 1}  # the old complete file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_plots_and_grids(tmp_path):
    history = [{"step": s, "loss": 10 / s, "recon_loss": 9 / s} for s in range(1, 20)] + [
        {"step": 19, "eval_loss": 1.0, "eval_recon_loss": 0.9}
    ]
    panels = [Panel("a", ["recon_loss", "eval_recon_loss"], "BCE"), Panel("b", ["loss", "missing_key"], "CE")]
    plot_curves(history, panels, tmp_path / "c.png")
    with Image.open(tmp_path / "c.png") as image:
        assert image.format == "PNG"
    save_image_grid(torch.rand(7, 5, 6), tmp_path / "g.png", ncols=3, pad=1)
    with Image.open(tmp_path / "g.png") as image:
        assert image.size == (3 * 7 + 1, 3 * 6 + 1)


def test_curves_figure_reads_well():
    """Integer step ticks, y labels, a bounded metric clipped to its range, a log scale where the first steps dwarf
    the rest, and a marker on a series of one point (one evaluation of a short run)."""
    history = [{"step": s, "loss": 50 / s} for s in range(1, 20)] + [{"step": 19, "eval_f1": 0.02}]
    fig = curves_figure(history, [Panel("loss", ["loss"], "CE"), Panel("F1", ["eval_f1"], "F1", limits=(0, 1))])
    loss_axis, f1_axis = fig.axes
    assert loss_axis.get_yscale() == "log" and f1_axis.get_yscale() == "linear"
    assert f1_axis.get_ylim() == (0, 1) and f1_axis.get_ylabel() == "F1" and loss_axis.get_ylabel() == "CE"
    assert all(float(tick).is_integer() for tick in f1_axis.get_xticks())  # not 18.5, 19.0, 19.5
    assert f1_axis.lines[0].get_marker() == "o"
    flat = curves_figure([{"step": s, "loss": 2 - s / 100} for s in range(1, 20)], [Panel("loss", ["loss"], "CE")])
    assert flat.axes[0].get_yscale() == "linear"


class TwoPartLoss(nn.Module):
    """A real (tiny) model whose loss has two named parts."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(3.0))

    def forward(self, x, return_loss=True):
        part_a = ((self.weight * x) ** 2).mean()
        part_b = self.weight.abs() * 0 + 2.0
        return {"loss": part_a + part_b, "part_a": part_a, "part_b": part_b}


def test_multi_loss_trainer_averages_components(tmp_path):
    from transformers import TrainingArguments

    from trainer_common.trainer import MultiLossTrainer

    data = [{"x": torch.tensor([float(i % 4)])} for i in range(32)]
    trainer = MultiLossTrainer(
        model=TwoPartLoss(),
        args=TrainingArguments(
            output_dir=str(tmp_path),
            per_device_train_batch_size=4,
            per_device_eval_batch_size=5,
            max_steps=8,
            logging_steps=4,
            learning_rate=0.05,
            report_to="none",
            use_cpu=True,
            remove_unused_columns=False,
            eval_strategy="steps",
            eval_steps=8,
            save_strategy="no",
            disable_tqdm=True,
        ),
        train_dataset=data,
        eval_dataset=data[:13],  # batches of 5, 5, 3: the average must weight by batch size
        loss_components=("part_a", "part_b"),
    )
    trainer.train()
    logs = trainer.state.log_history
    train_logs = [e for e in logs if "loss" in e]
    assert len(train_logs) == 2
    for entry in train_logs:
        assert entry["part_b"] == pytest.approx(2.0)
        assert entry["part_a"] + entry["part_b"] == pytest.approx(entry["loss"], rel=1e-3)
    final = [e for e in logs if "eval_loss" in e][-1]
    w = trainer.model.weight.item()
    assert abs(w) < 3.0  # it trained
    per_example = [(w * (i % 4)) ** 2 for i in range(13)]
    assert final["eval_part_a"] == pytest.approx(sum(per_example) / 13, rel=1e-3)
    assert final["eval_part_b"] == pytest.approx(2.0)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--num_samples", "0"], "--num_samples must be at least 1, got 0"),
        (["--num_samples", "100000"], "--num_samples must be at most 1024"),
        (["--initializer_range", "-1"], "--initializer_range must be above 0"),
        (["--kl_weight", "nan"], "--kl_weight must be a finite number"),
        (["--max_train_samples", "0"], "--max_train_samples must be at least 1, got 0"),
        (["--max_eval_samples", "-5"], "--max_eval_samples must be at least 1, got -5"),
        (["--eval_strategy", "bogus"], "bad arguments: bogus is not a valid IntervalStrategy"),
    ],
)
def test_vae_argument_ranges_are_checked_at_parse_time(argv, message):
    with pytest.raises(InputError, match=re.escape(message)):
        parse_args((VAEArguments, VAETrainingArguments), ["--output_dir", "unused", *argv])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--max_predict_samples", "0"], "--max_predict_samples must be at least 1"),
        (["--crf_learning_rate", "-1"], "--crf_learning_rate must be above 0"),
        (["--classifier_learning_rate", "inf"], "--classifier_learning_rate must be a finite number"),
        (["--max_seq_length", "1"], "--max_seq_length must be at least 2"),
    ],
)
def test_ner_argument_ranges_are_checked_at_parse_time(argv, message):
    from ner_trainer.arguments import NERArguments, NERTrainingArguments

    with pytest.raises(InputError, match=re.escape(message)):
        parse_args((NERArguments, NERTrainingArguments), argv)


@pytest.mark.parametrize(
    "text, message",
    [("learning_rate: [1, 2]\n", "learning_rate: expected one value, got list"),
     ("num_train_epochs: abc\n", "num_train_epochs: could not convert")],
)  # fmt: skip
def test_config_file_type_errors_name_the_key(tmp_path, text, message):
    config = tmp_path / "run.yaml"
    config.write_text(text)
    with pytest.raises(InputError, match=re.escape(f"{config}: {message}")):
        parse_args((VAEArguments, VAETrainingArguments), [str(config)])


def test_a_deeply_nested_json_config_is_one_error(tmp_path):
    config = tmp_path / "run.json"
    config.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(InputError, match="run.json: JSON nested too deeply"):
        parse_args((VAEArguments, VAETrainingArguments), [str(config)])


def test_save_images_leaves_no_stale_samples(tmp_path):
    from trainer_common.plots import save_images

    save_images(torch.rand(5, 4, 4), tmp_path)
    (tmp_path / "sample_notes.png").write_bytes(b"x")  # not one of ours: kept
    paths = save_images(torch.rand(2, 4, 4), tmp_path)
    remaining = sorted(p.name for p in tmp_path.glob("sample_*.png"))
    assert remaining == ["sample_0.png", "sample_1.png", "sample_notes.png"]
    assert [p.name for p in paths] == ["sample_0.png", "sample_1.png"]
