"""--bf16 in two real processes (torchrun, gloo), without --use_cpu: the CRF tagger trains on packed batches, and
the saved float32 model predicts every test sentence once."""

import json

from helpers import make_encoder_dir
from safetensors.torch import load_file
from test_ner_train import make_sentences, write_conll
from test_torchrun import TORCHRUN, launch


def test_two_processes_train_the_crf_tagger_in_bf16(tmp_path):
    files = [write_conll(tmp_path / f"{name}.txt", make_sentences(n, seed)) for name, n, seed in
             (("train", 32, 0), ("dev", 6, 1), ("test", 7, 2))]  # fmt: skip
    out = tmp_path / "two"
    two = launch(TORCHRUN, [
        "run_ner.py", "--bf16", "true", "--head", "crf", "--padding_free", "true", "--model_name_or_path",
        make_encoder_dir(tmp_path), "--train_file", files[0], "--validation_file", files[1], "--test_file", files[2],
        "--output_dir", out, "--num_train_epochs", "3", "--per_device_train_batch_size", "4", "--max_seq_length", "16",
        "--learning_rate", "2e-2", "--logging_steps", "1", "--report_to", "none", "--disable_tqdm", "true",
    ])  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    assert "training: world size 2, per-device train batch size 4, total train batch size 8" in two.stdout
    log = json.loads((out / "trainer_state.json").read_text())["log_history"]
    loss = [entry["loss"] for entry in log if "loss" in entry]
    assert len(loss) == 12 and sum(loss[-3:]) < 0.8 * sum(loss[:3]), loss  # it trains
    assert {str(t.dtype) for t in load_file(str(out / "model.safetensors")).values()} == {"torch.float32"}
    predictions = (out / "test_predictions.txt").read_text()
    assert predictions.count("\n\n") == 7  # every test sentence, once
