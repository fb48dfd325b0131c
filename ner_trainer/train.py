"""Fine-tune a `BertTagger` with `Trainer`: arguments, data, training, evaluation, test predictions, figures."""

import logging
import os
from dataclasses import dataclass, field

from transformers import TrainingArguments

from .modeling_bert_tagger import DEFAULT_ENCODER

logger = logging.getLogger(__name__)


@dataclass
class NERArguments:
    """Model and data arguments of `run_ner.py`."""

    model_name_or_path: str = field(
        default=DEFAULT_ENCODER,
        metadata={"help": "Pretrained encoder (Hub id or folder) to fine-tune, or a saved BertTagger to continue."},
    )
    head: str = field(default="linear", metadata={"help": "Classification head: 'linear'."})
    classifier_dropout: float | None = field(
        default=None, metadata={"help": "Dropout before the classifier (default: the encoder's hidden dropout)."}
    )
    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "Hub dataset with tokens/ner_tags columns. Default when no file is given: eriktks/conll2003."
        },
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "Config name of --dataset_name."})
    train_file: str | None = field(default=None, metadata={"help": "CoNLL column file, or JSON/JSONL (.json/.jsonl)."})
    validation_file: str | None = field(default=None, metadata={"help": "Same formats as --train_file."})
    test_file: str | None = field(
        default=None, metadata={"help": "Same formats; a file without tags is predicted, not scored."}
    )
    label_column: int = field(default=-1, metadata={"help": "Tag column of CoNLL files (default: the last)."})
    tag_scheme: str = field(
        default="iob2",
        metadata={"help": "Tag scheme of the files; 'iob1' is converted to IOB2.", "choices": ["iob2", "iob1"]},
    )
    max_seq_length: int = field(
        default=128,
        metadata={"help": "Tokens per window. Longer sentences are split into windows; no word is ever dropped."},
    )
    label_all_tokens: bool = field(
        default=False, metadata={"help": "Train on every sub-token of a word, not only the first (metrics unchanged)."}
    )
    strict: bool = field(default=False, metadata={"help": "Score entities in seqeval's strict IOB2 mode."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only the first N train sentences."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N validation sentences."})
    max_predict_samples: int | None = field(default=None, metadata={"help": "Use only the first N test sentences."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow model code from the checkpoint."})
    wandb_project: str = field(default="bert-ner", metadata={"help": "W&B project when --report_to wandb."})


@dataclass
class NERTrainingArguments(TrainingArguments):
    """`TrainingArguments` with token-classification defaults; padding-free training batches."""

    output_dir: str | None = field(default="runs/ner", metadata={"help": "Where the model and outputs go."})
    do_train: bool = field(default=True, metadata={"help": "Train (--no_do_train to only evaluate/predict)."})
    do_eval: bool = field(default=True, metadata={"help": "Evaluate on the validation split."})
    do_predict: bool = field(default=True, metadata={"help": "Predict (and score, if tagged) the test split."})
    learning_rate: float = field(default=5e-5, metadata={"help": "AdamW learning rate."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Training batch size per device."})
    per_device_eval_batch_size: int = field(default=64, metadata={"help": "Evaluation batch size per device."})
    num_train_epochs: float = field(default=3.0, metadata={"help": "Number of training epochs."})
    warmup_steps: float = field(default=0.1, metadata={"help": "Warm-up steps; below 1, a fraction of all steps."})
    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate on the validation split."})
    save_strategy: str = field(default="epoch", metadata={"help": "When to save a checkpoint."})
    save_total_limit: int | None = field(default=1, metadata={"help": "Checkpoints to keep."})
    logging_steps: float = field(default=50, metadata={"help": "Log the training loss every N steps."})
    padding_free: bool = field(
        default=True,
        metadata={
            "help": "Pack each training batch's sentences end to end, attention kept within each sentence: the same "
            "batches and loss as padded ones on about 2.6x fewer tokens (CoNLL). --no_padding_free pads instead."
        },
    )


def ner_trainer_class():
    """The `Trainer` subclass of this task; built in a function so that importing this module stays light."""
    import torch
    from torch.utils.data import Sampler, SequentialSampler
    from transformers import Trainer

    from .data import shuffled_length_grouped_indices

    class ShuffledLengthGroupedSampler(Sampler):
        def __init__(self, lengths: list[int], batch_size: int, generator: torch.Generator):
            self.lengths, self.batch_size, self.generator = lengths, batch_size, generator

        def __len__(self) -> int:
            return len(self.lengths)

        def __iter__(self):
            return iter(shuffled_length_grouped_indices(self.lengths, self.batch_size, self.generator))

    class NERTrainer(Trainer):
        """`Trainer` with its own training collator, and two changes for length-grouped batches.

        `train_data_collator`, when given, collates the training batches only (evaluation and prediction need one
        row per window, to map predictions back to words).

        Training batches of similar lengths come in random order (`data.shuffled_length_grouped_indices`), not in
        transformers' long-to-short sweeps.

        Evaluation keeps the dataset's row order. With `train_sampling_strategy="group_by_length"`, transformers
        also shuffles evaluation batches by length, and predictions would come back in an order that cannot be
        mapped to words. Our eval sets are already sorted by length, so sequential order costs nothing.
        """

        def __init__(self, *args, train_data_collator=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.train_data_collator = train_data_collator

        def get_train_dataloader(self):
            if self.train_data_collator is None:
                return super().get_train_dataloader()
            data_collator, self.data_collator = self.data_collator, self.train_data_collator
            try:
                return super().get_train_dataloader()
            finally:
                self.data_collator = data_collator

        def _get_train_sampler(self, train_dataset=None):
            train_dataset = train_dataset if train_dataset is not None else self.train_dataset
            if self.args.train_sampling_strategy != "group_by_length":
                return super()._get_train_sampler(train_dataset)
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            lengths = [len(ids) for ids in train_dataset["input_ids"]]
            batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
            return ShuffledLengthGroupedSampler(lengths, batch, torch.Generator().manual_seed(seed))

        def _get_eval_sampler(self, eval_dataset):
            if eval_dataset is None or self.args.world_size > 1:  # accelerate shards it in order
                return None
            return SequentialSampler(eval_dataset)

    return NERTrainer


def load_sentences(args: NERArguments) -> tuple[dict, list[str] | None]:
    """The train/validation/test sentences from the files, or else from the Hub, and the Hub's label list."""
    from .data import DEFAULT_HUB_DATASET, load_hub_dataset, read_file

    files = {"train": args.train_file, "validation": args.validation_file, "test": args.test_file}
    if any(files.values()):
        splits = {
            name: read_file(path, label_column=args.label_column, tag_scheme=args.tag_scheme)
            for name, path in files.items()
            if path
        }
        label_list = None
    else:
        splits, label_list = load_hub_dataset(args.dataset_name or DEFAULT_HUB_DATASET, args.dataset_config_name)
    limits = {"train": args.max_train_samples, "validation": args.max_eval_samples, "test": args.max_predict_samples}
    return {name: sents[: limits.get(name)] for name, sents in splits.items()}, label_list


def build_model_and_tokenizer(args: NERArguments, label_list: list[str] | None):
    """A saved BertTagger as it is, or a new one around the pretrained encoder; and the matching tokenizer."""
    from transformers import AutoConfig, AutoTokenizer

    from .modeling_bert_tagger import BertTagger

    try:
        config = AutoConfig.from_pretrained(args.model_name_or_path, trust_remote_code=args.trust_remote_code)
    except (OSError, ValueError) as err:
        if os.path.isdir(args.model_name_or_path):
            raise
        # transformers' message for a missing folder is about Hub repo ids or the network, not the path
        raise OSError(
            f"--model_name_or_path {args.model_name_or_path}: not a folder, and not loadable from the Hub ({err})"
        ) from err
    if config.model_type == "bert_tagger":
        model = BertTagger.from_pretrained(args.model_name_or_path)
        saved = [model.config.id2label[i] for i in range(model.config.num_labels)]
        if label_list is not None and set(label_list) - set(saved):
            unknown = sorted(set(label_list) - set(saved))
            raise ValueError(f"{args.model_name_or_path} was trained without the label(s) {unknown}")
        encoder_type = model.config.encoder.model_type
    else:
        if label_list is None:
            raise ValueError(f"{args.model_name_or_path} is an encoder, not a tagger: give a --train_file to train it")
        model = BertTagger.from_encoder(
            args.model_name_or_path, label_list, classifier_dropout=args.classifier_dropout, head=args.head
        )
        encoder_type = config.model_type
    # Byte-level BPE tokenizers need a prefix space to tokenize pre-split words as in running text.
    extra = {"add_prefix_space": True} if encoder_type in {"roberta", "gpt2", "bloom", "longformer"} else {}
    tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path, **extra)
    return model, tokenizer


class EncodedSplit:
    """One split's sentences, encoded as windows and held as a `datasets.Dataset`, with the bookkeeping to map
    token predictions back onto words."""

    def __init__(self, name, sentences, tokenizer, label2id, args: NERArguments, sort_by_length: bool):
        from .data import encode_sentences, to_dataset

        self.name, self.sentences = name, sentences
        label_all = args.label_all_tokens and name == "train"  # metrics always read first sub-tokens only
        features, stats = encode_sentences(sentences, tokenizer, label2id, args.max_seq_length, label_all)
        if sort_by_length:  # evaluation pads per batch: similar lengths together waste nothing
            order = sorted(range(len(features["length"])), key=features["length"].__getitem__)
            features = {key: [column[i] for i in order] for key, column in features.items()}
        self.word_index, self.sentence_id = features["word_index"], features["sentence_id"]
        self.word_start = features["word_start"]
        self.has_tags = "labels" in features
        self.dataset = to_dataset(features)
        logger.info(
            "%s: %d sentences in %d windows (%d split to fit %d tokens, %d over-long words cut to their first "
            "pieces); no word dropped",
            name, stats["sentences"], stats["windows"], stats["split_sentences"], args.max_seq_length,
            stats["truncated_words"],
        )  # fmt: skip
        self.stats = stats

    @property
    def gold_tags(self) -> list[list[str]]:
        return [sentence.tags for sentence in self.sentences]

    def word_predictions(self, trainer, id2label) -> list[list[str]]:
        """Predicted tags, one per word of every sentence, from `trainer.predict`."""
        from .data import words_from_predictions

        compute_metrics, trainer.compute_metrics = trainer.compute_metrics, None
        try:
            predictions = trainer.predict(self.dataset, metric_key_prefix=self.name).predictions
        finally:
            trainer.compute_metrics = compute_metrics
        num_words = [len(sentence.tokens) for sentence in self.sentences]
        ids = words_from_predictions(predictions, self.word_index, self.sentence_id, self.word_start, num_words)
        return [[id2label[i] for i in sentence] for sentence in ids]


def write_conll_predictions(path, split: EncodedSplit, predicted: list[list[str]]) -> None:
    """`token gold predicted` per line (`token predicted` for untagged input), a blank line after each sentence."""
    from trainer_common.io import write_text

    lines = []
    for sentence, tags in zip(split.sentences, predicted):
        gold = sentence.tags if sentence.tags is not None else [None] * len(tags)
        lines.extend(
            " ".join(x for x in (word, g, p) if x is not None) for word, g, p in zip(sentence.tokens, gold, tags)
        )
        lines.append("")
    write_text(path, "\n".join(lines) + "\n")


def train(args: NERArguments, training_args: NERTrainingArguments, callbacks: list | None = None) -> dict:
    """Train, evaluate and predict as the arguments say; write model, tokenizer, results and figures."""
    from transformers import DataCollatorForTokenClassification, IntervalStrategy, set_seed

    from trainer_common.io import write_json, write_text
    from trainer_common.tracking import finish, log_images, setup_logging, setup_wandb

    from .data import PaddingFreeCollator, build_label_list, check_labels
    from .metrics import argmax_logits, build_compute_metrics, classification_report_text, compute_ner_metrics
    from .plots import write_training_curves
    from .predict import default_max_seq_length

    setup_logging(training_args)
    setup_wandb(training_args, args.wandb_project)
    set_seed(training_args.seed)

    splits, label_list = load_sentences(args)
    if training_args.do_train and not splits.get("train"):
        raise ValueError("--do_train needs training data: give --train_file or a --dataset_name with a train split")
    if label_list is None and splits.get("train"):
        label_list = build_label_list(splits["train"])
    model, tokenizer = build_model_and_tokenizer(args, label_list)
    limit = default_max_seq_length(model, tokenizer)
    if args.max_seq_length > limit:  # a longer window would fail mid-training in the position embeddings
        raise ValueError(f"--max_seq_length {args.max_seq_length} is longer than the model takes ({limit} tokens)")
    id2label = {int(i): tag for i, tag in model.config.id2label.items()}
    label2id = {tag: i for i, tag in id2label.items()}
    for sentences in splits.values():
        if any(sentence.tags is not None for sentence in sentences):
            check_labels(sentences, label2id)  # names file, line and tag of any label training never saw

    wanted = {"train": training_args.do_train, "validation": training_args.do_eval, "test": training_args.do_predict}
    encoded = {
        name: EncodedSplit(name, splits[name], tokenizer, label2id, args, sort_by_length=name != "train")
        for name, wanted_split in wanted.items()
        if wanted_split and splits.get(name)
    }
    validation = encoded.get("validation")
    if validation is not None and not validation.has_tags:
        raise ValueError("the validation data has no tags to score against")
    if validation is None and training_args.eval_strategy != IntervalStrategy.NO:
        # the default eval_strategy="epoch" would make Trainer refuse to start without an eval_dataset
        logger.info("no validation data: no evaluation during training")
        training_args.eval_strategy = IntervalStrategy.NO

    mixed_precision = training_args.fp16 or training_args.bf16
    collator = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8 if mixed_precision else None)
    trainer = ner_trainer_class()(
        model=model,
        args=training_args,
        train_dataset=encoded["train"].dataset if "train" in encoded else None,
        eval_dataset=validation.dataset if validation else None,
        processing_class=tokenizer,
        data_collator=collator,
        train_data_collator=PaddingFreeCollator(collator) if training_args.padding_free else None,
        compute_metrics=build_compute_metrics(
            id2label, validation.gold_tags, validation.word_index, validation.sentence_id, validation.word_start,
            strict=args.strict,
        ) if validation else None,
        preprocess_logits_for_metrics=argmax_logits,
        callbacks=callbacks,
    )  # fmt: skip

    results = {f"{name}_windows": split.stats["windows"] for name, split in encoded.items()}
    out = training_args.output_dir
    if "train" in encoded:
        train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        trainer.save_model()  # model, its code for trust_remote_code, and the tokenizer
        trainer.save_state()
        trainer.log_metrics("train", train_result.metrics)
        results.update(train_result.metrics)
    if validation is not None:
        metrics = trainer.evaluate()
        trainer.log_metrics("eval", metrics)
        results.update(metrics)
    if "test" in encoded:
        test = encoded["test"]
        predicted = test.word_predictions(trainer, id2label)
        if trainer.is_world_process_zero():
            write_conll_predictions(f"{out}/test_predictions.txt", test, predicted)
        if test.has_tags:
            metrics = {f"test_{k}": v for k, v in compute_ner_metrics(test.gold_tags, predicted, args.strict).items()}
            trainer.log_metrics("test", metrics)
            results.update(metrics)
            report = classification_report_text(test.gold_tags, predicted, args.strict)
            if trainer.is_world_process_zero():
                write_text(f"{out}/test_report.txt", report)
    if trainer.is_world_process_zero():
        write_json(f"{out}/all_results.json", results)
        if trainer.state.log_history:
            log_images(trainer, {"training_curves": write_training_curves(trainer.state.log_history, out)})
    files_used = (args.train_file, args.validation_file, args.test_file)
    finish(
        trainer,
        tasks="token-classification",
        dataset_name=None if any(files_used) else (args.dataset_name or "conll2003"),
        finetuned_from=args.model_name_or_path,
        tags=["ner", "token-classification"],
    )
    return results


def main(argv: list[str] | None = None) -> dict:
    from trainer_common.args import parse_args

    args, training_args = parse_args((NERArguments, NERTrainingArguments), argv)
    return train(args, training_args)
