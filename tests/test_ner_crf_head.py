"""The CRF head inside `BertTagger`: word chains, packed rows, decoding on every loading path, and a run end to end."""

import pytest
import torch
from helpers import assert_same_loss_and_gradients, make_tokenizer, run_without_project, tiny_bert_config
from test_ner_train import base_args, make_sentences, read_blocks, write_conll

from ner_trainer import tagging
from ner_trainer.configuration_bert_tagger import BertTaggerConfig
from ner_trainer.modeling_bert_tagger import BertTagger
from ner_trainer.word_chains import WordChains

LABELS = tagging.label_list(["LOC", "PER"], "bioes")


def crf_model(scheme="bioes", labels=LABELS, seed=0, **kwargs) -> BertTagger:
    torch.manual_seed(seed)
    config = BertTaggerConfig(
        encoder=tiny_bert_config(), id2label=dict(enumerate(labels)), head="crf", label_scheme=scheme,
        classifier_dropout=0.0, **kwargs,
    )  # fmt: skip
    config.encoder.hidden_dropout_prob = config.encoder.attention_probs_dropout_prob = 0.0
    model = BertTagger(config)
    with torch.no_grad():  # trained-looking transitions, so that decoding differs from argmax
        model.crf.transitions.normal_(0, 2.0)
        model.crf.start_transitions.normal_(0, 1.0)
        model.crf.end_transitions.normal_(0, 1.0)
    return model


def sentence_batch(lengths=(9, 3, 5, 4, 7, 2), seed=0):
    """Features like `encode_sentences` makes: [CLS] words-with-pieces [SEP], word_mask on first sub-tokens."""
    generator = torch.Generator().manual_seed(seed)
    features = []
    for length in lengths:
        ids = [2] + torch.randint(5, 30, (length - 2,), generator=generator).tolist() + [3]
        word_mask = [0] + [int(t % 3 != 0 or t == 1) for t in range(1, length - 1)] + [0]
        labels = [tag if m else -100 for tag, m in zip(torch.randint(0, 1, (length,)).tolist(), word_mask)]
        features.append({"input_ids": ids, "attention_mask": [1] * length, "token_type_ids": [0] * length,
                         "labels": labels, "word_mask": word_mask})  # fmt: skip
    return features


def test_word_chains_gather_each_sentence_of_packed_rows():
    word_mask = torch.tensor([[0, 1, 1, 0, 0, 1, 0], [0, 1, 0, 1, 0, 0, 0]])
    starts = torch.tensor([[1, 0, 0, 0, 1, 0, 0], [1, 0, 0, 0, 0, 1, 0]]).bool()
    chains = WordChains.build(word_mask, starts)
    assert chains.mask.tolist() == [[True, True], [True, False], [True, True], [False, False]]
    assert chains.index[chains.mask].tolist() == [1, 2, 5, 8, 10]
    # later tokens take their word's number; tokens before a sentence's first word get -1
    assert chains.token_word.view(2, 7).tolist() == [[-1, 0, 1, 1, -1, 2, 2], [-1, 3, 3, 4, 4, -1, -1]]


def test_packed_and_padded_batches_give_the_same_crf_loss_and_gradients(tiny_tokenizer):
    from transformers import DataCollatorForTokenClassification

    from ner_trainer.data import PaddingFreeCollator, WordMaskCollator

    model = crf_model().train()
    features = sentence_batch()
    for f in features:  # real tags, not only O
        f["labels"] = [i % len(LABELS) if m else -100 for i, m in enumerate(f["word_mask"])]
    collator = WordMaskCollator(DataCollatorForTokenClassification(tiny_tokenizer))
    padded, packed = collator(features), PaddingFreeCollator(collator)(features)
    assert packed["input_ids"].shape[0] < padded["input_ids"].shape[0]
    model.crf.set_constraints(None, None, None)  # random tags break the scheme; the loss must still match
    _, _, expected = assert_same_loss_and_gradients(model, padded, packed, rtol=1e-4, atol=1e-5)
    assert expected["crf.transitions"].abs().sum() > 0


def test_decode_is_viterbi_per_sentence_and_logits_carry_it(tiny_tokenizer):
    from transformers import DataCollatorForTokenClassification

    from ner_trainer.data import WordMaskCollator

    model = crf_model().eval()
    batch = WordMaskCollator(DataCollatorForTokenClassification(tiny_tokenizer))(sentence_batch())
    batch.pop("labels")
    with torch.no_grad():
        out = model(**batch)
        emissions = model.classifier(model.encoder(**{k: batch[k] for k in ("input_ids", "attention_mask")})[0])
        decoded = model.decode(emissions, batch["word_mask"], attention_mask=batch["attention_mask"])
    words = batch["word_mask"].bool()
    assert torch.equal(out.logits.argmax(-1)[words], decoded[words])
    differs = False
    for row in range(len(words)):  # each sentence alone, through the CRF's own Viterbi
        alone = emissions[row][words[row]][None]
        tags, _ = model.crf.viterbi_decode(alone, torch.ones(alone.shape[:2], dtype=torch.bool))
        assert decoded[row][words[row]].tolist() == tags[0].tolist()
        differs |= tags[0].tolist() != alone[0].argmax(-1).tolist()
    assert differs, "with these transitions Viterbi should differ from the emissions' argmax somewhere"


def test_constrained_decoding_never_breaks_the_scheme(tiny_tokenizer):
    from transformers import DataCollatorForTokenClassification

    from ner_trainer.data import WordMaskCollator

    collator = WordMaskCollator(DataCollatorForTokenClassification(tiny_tokenizer))
    for seed in range(5):
        model = crf_model(seed=seed).eval()
        batch = collator(sentence_batch(lengths=(12, 10, 8, 11), seed=seed))
        with torch.no_grad():
            ids = model(**batch).logits.argmax(-1)
        for row, mask in zip(ids, batch["word_mask"].bool()):
            tags = [LABELS[i] for i in row[mask].tolist()]
            assert tagging.first_violation(tags, "bioes") is None, tags


def test_crf_parameters_are_weights_and_reload_to_identical_decodes(tmp_path, tiny_tokenizer):
    import json

    from safetensors.torch import load_file

    model = crf_model().eval()
    model.save_pretrained(tmp_path / "crf")
    saved = load_file(tmp_path / "crf" / "model.safetensors")
    assert {"crf.transitions", "crf.start_transitions", "crf.end_transitions"} <= set(saved)
    assert "transition_penalty" not in json.dumps(json.loads((tmp_path / "crf" / "config.json").read_text()))
    reloaded = BertTagger.from_pretrained(tmp_path / "crf").eval()
    batch = {"input_ids": torch.tensor([[2, 7, 8, 9, 10, 11, 3]])}
    with torch.no_grad():
        assert torch.equal(model(**batch).logits.argmax(-1), reloaded(**batch).logits.argmax(-1))


def test_pipeline_and_remote_code_return_viterbi_tags(tmp_path):
    from transformers import AutoModelForTokenClassification, pipeline

    import ner_trainer  # noqa: F401  (registers the Auto classes)

    tokenizer = make_tokenizer(tmp_path)
    model = crf_model()
    model.save_pretrained(tmp_path / "crf")
    tokenizer.save_pretrained(tmp_path / "crf")
    text = "Peter Blackburn visited Washington and London said on Monday"
    auto = AutoModelForTokenClassification.from_pretrained(tmp_path / "crf").eval()
    assert isinstance(auto, BertTagger)
    encoding = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        logits = auto(**encoding).logits
        emissions = auto.classifier(auto.encoder(**encoding)[0])
        expected = auto.decode(emissions, attention_mask=encoding["attention_mask"])[0, 1:-1].tolist()
    assert logits.argmax(-1)[0, 1:-1].tolist() == expected
    tagger = pipeline("token-classification", model=auto, tokenizer=tokenizer, ignore_labels=[])
    assert [auto.config.label2id[e["entity"]] for e in tagger(text)] == expected

    script = f"""
import json, torch
from transformers import AutoModelForTokenClassification, AutoTokenizer
model = AutoModelForTokenClassification.from_pretrained({str(tmp_path / "crf")!r}, trust_remote_code=True).eval()
tokenizer = AutoTokenizer.from_pretrained({str(tmp_path / "crf")!r}, trust_remote_code=True)
encoding = tokenizer({text!r}, return_tensors="pt")
with torch.no_grad():
    print(json.dumps(model(**encoding).logits.argmax(-1)[0, 1:-1].tolist()))
"""
    done = run_without_project(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(expected).replace("'", '"')


def test_crf_bioes_run_end_to_end_writes_iob2_predictions(tmp_path):
    import conlleval
    from helpers import make_encoder_dir

    from ner_trainer.train import main

    train, test = (
        write_conll(tmp_path / "train.txt", make_sentences(32, 0)),
        write_conll(tmp_path / "test.txt", make_sentences(6, 2)),
    )
    out = tmp_path / "out"
    argv = base_args(out, train, None, test, model=make_encoder_dir(tmp_path), num_train_epochs=3,
                     learning_rate=5e-3, head="crf", label_scheme="bioes", crf_learning_rate=5e-2)  # fmt: skip
    results = main(argv)
    config = BertTaggerConfig.from_pretrained(out)
    assert config.head == "crf" and config.label_scheme == "bioes"
    assert any(tag.startswith(("E-", "S-")) for tag in config.id2label.values())
    blocks = read_blocks(out / "test_predictions.txt")
    predicted = {row[2][:2] for block in blocks for row in block}
    assert predicted <= {"O", "B-", "I-"}, "predictions are written in the input's scheme (IOB2), not BIOES"
    # the conlleval port scores the written file exactly as we scored the predictions
    lines = (out / "test_predictions.txt").read_text().split("\n")
    conlleval_f1 = conlleval.evaluate(lines)["overall"]["chunks"]["evals"]["f1"]
    assert conlleval_f1 == pytest.approx(results["test_f1"], abs=1e-12)


@pytest.mark.parametrize(
    "options, expected",
    [
        ({}, {"encoder": 5e-5, "classifier": 1e-3, "crf": 1e-3}),  # the defaults: the head at 1e-3
        ({"crf_learning_rate": 5e-2}, {"encoder": 5e-5, "classifier": 1e-3, "crf": 5e-2}),
        ({"classifier_learning_rate": 5e-5}, {"encoder": 5e-5, "classifier": 5e-5, "crf": 5e-5}),
    ],
)
def test_each_part_gets_its_learning_rate(tmp_path, options, expected):
    from ner_trainer.arguments import NERTrainingArguments
    from ner_trainer.trainer import NERTrainer

    model = crf_model()
    args = NERTrainingArguments(str(tmp_path), report_to="none", use_cpu=True, eval_strategy="no", **options)
    optimizer = NERTrainer(model=model, args=args).create_optimizer()
    rate = {id(param): group["lr"] for group in optimizer.param_groups for param in group["params"]}
    parts = model.parameter_groups()
    for name, param in model.named_parameters():
        part = next(part for part, names in parts.items() if name in names)
        assert rate[id(param)] == expected[part], name
