"""NER metrics against hand-computed values, and the word-level compute_metrics on windowed eval features."""

import warnings

import numpy as np
import pytest
import torch
from helpers import make_tokenizer, tiny_bert_config
from transformers import DataCollatorForTokenClassification, EvalPrediction, Trainer, TrainingArguments

from ner_trainer.configuration_bert_tagger import BertTaggerConfig
from ner_trainer.data import WordAlignment
from ner_trainer.metrics import (
    build_compute_metrics,
    classification_report_text,
    compute_ner_metrics,
    predicted_tag_ids,
)
from ner_trainer.modeling_bert_tagger import BertTagger

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
ID = {tag: i for i, tag in enumerate(LABELS)}
ID2LABEL = dict(enumerate(LABELS))

# 3 gold entities (PER, LOC, ORG); 2 predicted (PER right, LOC on the ORG's word wrong).
GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
PRED = [["B-PER", "I-PER", "O", "O"], ["B-LOC", "O"]]


def test_hand_computed_scores():
    metrics = compute_ner_metrics(GOLD, PRED)
    assert metrics["precision"] == pytest.approx(1 / 2)
    assert metrics["recall"] == pytest.approx(1 / 3)
    assert metrics["f1"] == pytest.approx(0.4)  # 2PR / (P + R) = (1/3) / (5/6)
    assert metrics["accuracy"] == pytest.approx(4 / 6)  # words: B-LOC -> O and B-ORG -> B-LOC are wrong
    assert {k: metrics[k] for k in ("PER_precision", "PER_recall", "PER_f1", "PER_number")} == {
        "PER_precision": 1.0, "PER_recall": 1.0, "PER_f1": 1.0, "PER_number": 1.0,
    }  # fmt: skip
    # LOC: one predicted (wrong), one gold (missed); ORG: none predicted, so precision 0/0 -> 0.
    for entity_type in ("LOC", "ORG"):
        for score in ("precision", "recall", "f1"):
            assert metrics[f"{entity_type}_{score}"] == 0.0
        assert metrics[f"{entity_type}_number"] == 1.0
    assert len(metrics) == 4 + 3 * 4
    assert all(type(value) is float for value in metrics.values())


def test_multi_token_entities_and_partial_matches():
    # A span with the wrong boundary is a false positive and a false negative.
    gold = [["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"]]
    pred = [["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC"]]
    metrics = compute_ner_metrics(gold, pred)
    assert metrics["precision"] == metrics["recall"] == metrics["f1"] == pytest.approx(1 / 2)
    assert metrics["PER_f1"] == 0.0 and metrics["LOC_f1"] == 1.0
    assert metrics["accuracy"] == pytest.approx(5 / 6)


def test_strict_mode_rejects_an_entity_that_starts_with_i():
    gold = [["B-PER", "I-PER", "O"]]
    pred = [["I-PER", "I-PER", "O"]]  # invalid in IOB2
    lenient = compute_ner_metrics(gold, pred)
    strict = compute_ner_metrics(gold, pred, strict=True)
    assert lenient["f1"] == lenient["PER_f1"] == 1.0  # conlleval: a stray I- starts an entity
    assert strict["precision"] == strict["recall"] == strict["f1"] == 0.0
    assert strict["PER_number"] == 1.0
    assert lenient["accuracy"] == strict["accuracy"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("strict", [False, True])
def test_no_entities_gives_zeros_without_warnings(strict):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = compute_ner_metrics([["O", "O"], ["O"]], [["O", "O"], ["O"]], strict=strict)
        text = classification_report_text([["O", "O"]], [["O", "O"]], strict=strict)
    assert metrics == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 1.0}
    assert "No entities" in text


def test_classification_report_text():
    text = classification_report_text(GOLD, PRED)
    lines = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.strip()}
    assert lines["PER"] == ["1.0000", "1.0000", "1.0000", "1"]
    assert lines["ORG"] == ["0.0000", "0.0000", "0.0000", "1"]
    assert lines["micro"] == ["avg", "0.5000", "0.3333", "0.4000", "3"]


def test_mismatched_lengths_are_named():
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted"):
        compute_ner_metrics(GOLD, PRED[:1])
    with pytest.raises(ValueError, match="sentence 1 has 2 gold tags but 3 predicted"):
        compute_ner_metrics(GOLD, [PRED[0], ["O", "O", "O"]])


# ---- word-level compute_metrics ----------------------------------------------------------------------------------

# Sentence 0, "Peter visited Washington" (Washington = Wash ##ing ##ton), split into two windows;
# sentence 1, "London said", one window. Per row: word_index, sentence_id, word_start.
GOLD_WORDS = [["B-PER", "O", "B-LOC"], ["B-LOC", "O"]]
WORD_INDEX = [
    [-1, 0, 1, -1],  # [CLS] Peter visited [SEP]
    [-1, 2, -1, -1, -1],  # [CLS] Wash ##ing ##ton [SEP]
    [-1, 0, 1, -1],  # [CLS] London said [SEP]
]
SENTENCE_ID = [0, 0, 1]
WORD_START = [0, 2, 0]
ALIGNMENT = WordAlignment(SENTENCE_ID, WORD_START, WORD_INDEX, [len(tags) for tags in GOLD_WORDS])
# Predicted tags per token: Peter is missed, Washington right on all three pieces, London right.
PRED_TOKENS = [["O", "O", "O", "O"], ["O", "B-LOC", "B-LOC", "B-LOC", "O"], ["O", "B-LOC", "O", "O"]]
# Labels as `label_all_tokens` without B->I conversion would set them: every piece of a word gets its tag.
LABEL_ALL_TOKENS = [[-100, "B-PER", "O", -100], [-100, "B-LOC", "B-LOC", "B-LOC", -100], [-100, "B-LOC", "O", -100]]


def padded_logits(rows: list[list[str]], seq_len: int = 6) -> np.ndarray:
    """One-hot logits, padded with -100 across rows as the Trainer pads its gathered predictions."""
    logits = np.full((len(rows), seq_len, len(LABELS)), -100.0)
    for r, tags in enumerate(rows):
        logits[r, : len(tags)] = 0.0
        for t, tag in enumerate(tags):
            logits[r, t, ID[tag]] = 1.0
    return logits


def test_compute_metrics_scores_words_not_tokens():
    compute_metrics = build_compute_metrics(ID2LABEL, GOLD_WORDS, ALIGNMENT)
    assert compute_metrics.word_tags is None
    metrics = compute_metrics(EvalPrediction(predictions=padded_logits(PRED_TOKENS), label_ids=None))
    # the word tags scored, kept for the span JSON outputs: one per word of every sentence
    assert [len(tags) for tags in compute_metrics.word_tags] == [len(tags) for tags in GOLD_WORDS]
    assert compute_ner_metrics(GOLD_WORDS, compute_metrics.word_tags) == metrics
    # Words: gold PER, LOC, LOC; predicted LOC, LOC, both right -> P = 1, R = 2/3, F1 = 0.8; 4 of 5 words right.
    assert metrics["precision"] == 1.0
    assert metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["f1"] == pytest.approx(0.8)
    assert metrics["accuracy"] == pytest.approx(4 / 5)
    assert metrics["LOC_number"] == 2.0 and metrics["PER_number"] == 1.0

    # The naive score over every labelled token counts Washington three times: R = 4/5, accuracy 6/7.
    naive_gold = [[tag for tag in row if tag != -100] for row in LABEL_ALL_TOKENS]
    naive_pred = [[p for p, g in zip(pred, gold) if g != -100] for pred, gold in zip(PRED_TOKENS, LABEL_ALL_TOKENS)]
    naive = compute_ner_metrics(naive_gold, naive_pred)
    assert naive["recall"] == pytest.approx(4 / 5) and naive["accuracy"] == pytest.approx(6 / 7)
    assert naive["f1"] > metrics["f1"] and naive["accuracy"] > metrics["accuracy"]


def test_compute_metrics_takes_argmaxed_predictions():
    compute_metrics = build_compute_metrics(ID2LABEL, GOLD_WORDS, ALIGNMENT)
    from_logits = compute_metrics(EvalPrediction(predictions=padded_logits(PRED_TOKENS), label_ids=None))
    ids = predicted_tag_ids(torch.from_numpy(padded_logits(PRED_TOKENS)), labels=None).numpy()
    ids[0, 4:] = ids[2, 4:] = -100  # cross-batch padding of the argmaxed ids
    assert compute_metrics(EvalPrediction(predictions=ids, label_ids=None)) == from_logits
    assert compute_metrics(EvalPrediction(predictions=(ids,), label_ids=None)) == from_logits


def test_compute_metrics_refuses_words_without_a_prediction():
    # Sentence 1 ("London said") has no window: scoring without it would silently drop its words.
    compute_metrics = build_compute_metrics(ID2LABEL, GOLD_WORDS, ALIGNMENT.select([0, 1]))
    with pytest.raises(ValueError, match="word 0 of sentence 1 got 0 predictions"):
        compute_metrics(EvalPrediction(predictions=padded_logits(PRED_TOKENS[:2]), label_ids=None))


def test_compute_metrics_names_bad_values():
    compute_metrics = build_compute_metrics({0: "O"}, GOLD_WORDS, ALIGNMENT)
    with pytest.raises(ValueError, match=r"predicted ids \[3\] are not in id2label"):
        compute_metrics(EvalPrediction(predictions=padded_logits(PRED_TOKENS), label_ids=None))


def test_inside_trainer_evaluate(tmp_path):
    """Batches of different lengths, argmax on device, -100 padding across batches: same as scoring by hand."""
    tokenizer = make_tokenizer(tmp_path)
    sentences = [["Peter", "visited", "Washington"], ["London", "said"], ["Mary", "Lee", "lives", "in", "Paris"]]
    gold = [["B-PER", "O", "B-LOC"], ["B-LOC", "O"], ["B-PER", "I-PER", "O", "O", "B-LOC"]]
    features, word_index = [], []
    for words, tags in zip(sentences, gold):
        encoding = tokenizer(words, is_split_into_words=True)
        ids = encoding.word_ids()
        first = [w if w is not None and (t == 0 or ids[t - 1] != w) else -1 for t, w in enumerate(ids)]
        labels = [ID[tags[w]] if w is not None else -100 for w in ids]  # label_all_tokens style
        features.append({"input_ids": encoding["input_ids"], "labels": labels})
        word_index.append(first)

    encoder = tiny_bert_config(len(tokenizer), hidden_size=16, num_hidden_layers=1)
    model = BertTagger(BertTaggerConfig(encoder=encoder, id2label=ID2LABEL)).eval()
    alignment = WordAlignment([0, 1, 2], [0, 0, 0], word_index, [len(tags) for tags in gold])
    compute_metrics = build_compute_metrics(ID2LABEL, gold, alignment)
    args = TrainingArguments(tmp_path / "out", per_device_eval_batch_size=2, report_to="none", use_cpu=True)
    trainer = Trainer(
        model=model,
        args=args,
        eval_dataset=features,
        data_collator=DataCollatorForTokenClassification(tokenizer),
        compute_metrics=compute_metrics,
        preprocess_logits_for_metrics=predicted_tag_ids,
    )
    metrics = trainer.evaluate()

    with torch.no_grad():
        pred = [model(input_ids=torch.tensor([f["input_ids"]])).logits[0].argmax(-1).tolist() for f in features]
    pred_tags = [[LABELS[p] for p, w in zip(row, first) if w >= 0] for row, first in zip(pred, word_index)]
    expected = compute_ner_metrics(gold, pred_tags)
    assert {k: metrics[f"eval_{k}"] for k in expected} == pytest.approx(expected)
