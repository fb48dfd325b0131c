"""predict's speed-ups keep its results: batches by token budget (`length_batches`), and `--dtype bfloat16`."""

import json
import random

import pytest
import torch
from helpers import make_tokenizer, tiny_bert_config

import ner_trainer
import run_ner
from ner_trainer import tagging
from trainer_common.cli import run_cli
from trainer_common.errors import InputError
from trainer_common.predict_io import PAD_SLACK, length_batches

TEXTS = [
    "Peter Blackburn visited Brussels.",
    "",
    "Paris",
    "John Smith works for the European Commission in Paris, London and New York City.",
    "EU rejects German call to boycott British lamb .",
    " ".join(["Mary Lee said on Monday that EU rejects German call ."] * 6),  # longer than a 16-token window
    "Washington",
]


@pytest.fixture(scope="module")
def taggers(tmp_path_factory) -> dict:
    """A BertTagger with a linear head and one with a CRF head (BIOES), with large classifier weights so that
    tags are clear calls, and CRF transitions that make Viterbi differ from the argmax."""
    tmp = tmp_path_factory.mktemp("taggers")
    tokenizer = make_tokenizer(tmp)
    folders = {}
    for head in ("linear", "crf"):
        torch.manual_seed(0)
        config = ner_trainer.BertTaggerConfig(
            encoder=tiny_bert_config(vocab_size=len(tokenizer)),
            id2label=dict(enumerate(tagging.label_list(["LOC", "PER"], "bioes"))),
            head=head,
            label_scheme="bioes",
        )
        model = ner_trainer.BertTagger(config)
        with torch.no_grad():
            model.classifier.weight.normal_(0, 1.0)
            if model.crf is not None:
                model.crf.transitions.normal_(0, 2.0)
        model.save_pretrained(tmp / head)
        tokenizer.save_pretrained(tmp / head)
        folders[head] = tmp / head
    return folders


@pytest.mark.parametrize("seed", range(5))
def test_length_batches_hold_every_row_once_within_their_budgets(seed):
    rng = random.Random(seed)
    lengths = [rng.choice([rng.randint(1, 12), rng.randint(1, 300)]) for _ in range(rng.randint(0, 200))]
    max_tokens, max_rows = rng.choice([1, 64, 512, 2048]), rng.choice([None, 1, 7, 32])
    batches = length_batches(lengths, max_tokens, max_rows)
    assert sorted(r for batch in batches for r in batch) == list(range(len(lengths)))
    widths = [max(lengths[r] for r in batch) for batch in batches]
    assert widths == sorted(widths, reverse=True)  # longest first
    for batch, width in zip(batches, widths):
        assert lengths[batch[0]] == width
        assert len(batch) == 1 or len(batch) * width <= max_tokens  # a row longer than the budget runs alone
        assert max_rows is None or len(batch) <= max_rows
        assert all(lengths[r] >= PAD_SLACK * width for r in batch)  # little padding
        same = [r for r in batch if lengths[r] == width]
        assert same == sorted(same)  # rows of one length keep their order


def test_length_batches_refuse_empty_budgets():
    with pytest.raises(InputError, match="at least one token"):
        length_batches([3, 4], 0)
    with pytest.raises(InputError, match="at least one token"):
        length_batches([3, 4], 16, 0)


def one_by_one(tagger, text: str) -> tuple[list[int], list[float]]:
    """The oracle: the text's words through the model alone, unpadded, as one batch of one; tag id and softmax
    probability at each word's first sub-token."""
    words = [w for w, _, _ in ner_trainer.predict.split_words(text)]
    encoding = tagger.tokenizer(words, is_split_into_words=True, return_tensors="pt")
    word_ids = encoding.word_ids(0)
    firsts = [t for t, w in enumerate(word_ids) if w is not None and (t == 0 or word_ids[t - 1] != w)]
    word_mask = torch.zeros_like(encoding["input_ids"])
    word_mask[0, firsts] = 1
    with torch.inference_mode():
        logits = tagger.model(**encoding, word_mask=word_mask).logits[0, firsts].float()
    scores, ids = logits.softmax(-1).max(-1)
    return ids.tolist(), scores.tolist()


def spans(records: list[dict]) -> list[list[tuple]]:
    return [[(e["text"], e["type"], e["start"], e["end"]) for e in r["entities"]] for r in records]


@pytest.mark.parametrize("head", ["linear", "crf"])
def test_any_batching_gives_the_tags_and_scores_of_each_text_alone(taggers, head):
    tagger = ner_trainer.load_tagger(taggers[head], device="cpu")
    short = [text for text in TEXTS if len(text) < 100]  # one window each: comparable with the text alone
    for text, record in zip(short, tagger.predict(short, word_scores=True)):
        ids, scores = one_by_one(tagger, text)
        assert record["tags"] == [tagger.model.config.id2label[i] for i in ids]
        assert [w["score"] for w in record["word_scores"]] == pytest.approx(scores, abs=1e-4)
    for tagger.max_seq_length in (None, 16):  # 16: the long text in windows
        tagger.batch_tokens, tagger.batch_size = 2048, 32
        reference = tagger.predict(TEXTS, word_scores=True)
        for tagger.batch_tokens, tagger.batch_size in [(1, None), (16, 2), (64, None), (10_000, 1), (10_000, None)]:
            records = tagger.predict(TEXTS, word_scores=True)
            assert [r["tags"] for r in records] == [r["tags"] for r in reference]
            assert spans(records) == spans(reference)
            for key in ("word_scores", "entities"):
                scores = [w["score"] for r in records for w in r[key]]
                assert scores == pytest.approx([w["score"] for r in reference for w in r[key]], abs=1e-4)


@pytest.mark.parametrize("head", ["linear", "crf"])
def test_bfloat16_runs_the_encoder_in_bf16_and_the_crf_in_float32(taggers, head):
    fp32 = ner_trainer.load_tagger(taggers[head], device="cpu")
    bf16 = ner_trainer.load_tagger(taggers[head], device="cpu", dtype="bfloat16")
    assert {p.dtype for p in bf16.model.encoder.parameters()} == {torch.bfloat16}
    assert bf16.model.classifier.weight.dtype == torch.bfloat16
    if head == "crf":
        assert {p.dtype for p in bf16.model.crf.parameters()} == {torch.float32}
    ours, theirs = bf16.predict(TEXTS, word_scores=True), fp32.predict(TEXTS, word_scores=True)
    assert [r["words"] for r in ours] == [r["words"] for r in theirs]  # every word still gets a tag
    tags = [(a, b) for x, y in zip(ours, theirs) for a, b in zip(x["tags"], y["tags"])]
    assert sum(a == b for a, b in tags) >= 0.9 * len(tags)  # bf16 may flip a close call, not many
    for x, y in zip(ours, theirs):
        for a, b in zip(x["word_scores"], y["word_scores"]):
            if a["tag"] == b["tag"]:
                assert a["score"] == pytest.approx(b["score"], abs=0.05)


def test_cli_dtype_and_batch_tokens(taggers, tmp_path, capsys):
    out = tmp_path / "tags.jsonl"
    argv = ["predict", "--model", str(taggers["crf"]), "--output_file", str(out), *TEXTS[:3]]
    assert run_cli(run_ner.COMMANDS, default="train", argv=[*argv, "--dtype", "bfloat16", "--batch_tokens", "8"]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    tagger = ner_trainer.load_tagger(taggers["crf"], device="cpu", dtype="bfloat16")
    assert records == tagger.predict(TEXTS[:3])
    capsys.readouterr()
    assert run_cli(run_ner.COMMANDS, default="train", argv=[*argv, "--batch_tokens", "0"]) == 2
    assert capsys.readouterr().err == "error: --batch_tokens must be at least 1, got 0\n"
    assert run_cli(run_ner.COMMANDS, default="train", argv=[*argv, "--dtype", "float16"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: argument --dtype: invalid choice: 'float16'") and err.count("\n") == 1


def test_load_tagger_refuses_a_bad_dtype_or_token_budget(taggers):
    with pytest.raises(InputError, match="dtype must be one of float32, bfloat16, got 'float16'"):
        ner_trainer.load_tagger(taggers["linear"], device="cpu", dtype="float16")
    with pytest.raises(InputError, match="batch_tokens must be an integer of at least 1, got 0"):
        ner_trainer.load_tagger(taggers["linear"], device="cpu", batch_tokens=0)
