"""Fine-tune a `BertTagger` with `Trainer`: data, model, training, evaluation, test predictions, figures."""

import logging

from trainer_common.errors import InputError
from trainer_common.recipe import Recipe

from .arguments import NERArguments, NERTrainingArguments
from .sources import build_model_and_tokenizer, load_sentences

logger = logging.getLogger(__name__)


class EncodedSplit:
    """One split's sentences, encoded as windows and held as a `datasets.Dataset`, with the `WordAlignment` that
    maps token predictions back onto words."""

    def __init__(self, name, sentences, tokenizer, label2id, args: NERArguments, sort_by_length: bool):
        from .data import WordAlignment, encode_sentences, to_dataset

        self.name, self.sentences = name, sentences
        label_all = args.label_all_tokens and name == "train"  # metrics always read first sub-tokens only
        features, stats = encode_sentences(sentences, tokenizer, label2id, args.max_seq_length, label_all)
        self.alignment = WordAlignment.from_features(features, sentences)
        if sort_by_length:  # evaluation pads per batch: similar lengths together waste nothing
            order = sorted(range(len(features["length"])), key=features["length"].__getitem__)
            features = {key: [column[i] for i in order] for key, column in features.items()}
            self.alignment = self.alignment.select(order)
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
    def is_span_json(self) -> bool:
        from .data.cluener import is_span_json

        return is_span_json(self.sentences)

    @property
    def gold_tags(self) -> list[list[str]]:
        return [sentence.tags for sentence in self.sentences]

    def word_predictions(self, trainer, id2label) -> list[list[str]]:
        """Predicted tags, one per word of every sentence, from `trainer.predict`."""
        predictions = trainer.predict_without_metrics(self.dataset, self.name).predictions
        return [[id2label[i] for i in sentence] for sentence in self.alignment.tag_ids(predictions)]


class NERRecipe(Recipe):
    """`run_ner.py`: fine-tune on the train split, evaluate on validation, predict and score the test split."""

    package = __package__
    task = "ner"
    # what a checkpoint to resume from must share with this run's model (`Recipe.check_resume`): the labels in
    # their order, the head and what shapes or trains the encoder; not dropout, which a resumed run may change
    resume_fields = (
        "id2label", "head", "label_scheme", "constrain_transitions", "layer_pooling", "freeze_encoder",
        "freeze_layers", "layer_lr_decay", "lora_r", "lora_alpha", "lora_target_modules",
        *(f"encoder.{name}" for name in ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                          "intermediate_size", "vocab_size", "max_position_embeddings",
                                          "type_vocab_size")),
    )  # fmt: skip
    eval_columns = (("loss", "loss"), ("precision", "P"), ("recall", "R"), ("f1", "F1"))

    def load_data(self) -> None:
        from .data import build_label_list

        self.splits, self.label_list = load_sentences(
            self.args, self.training_args.seed, self.training_args.label_names
        )
        if self.training_args.do_train and not self.splits.get("train"):
            raise InputError(
                "--do_train needs training data: give --train_file or a --dataset_name with a train split"
            )
        column = self.args.label_column_name
        for name, sentences in self.splits.items():
            if sentences and all(sentence.tags is None for sentence in sentences):
                where = f"{sentences[0].source}: no tags (for JSON, CSV and Hub data: no {column!r} column, which "
                where += "--label_column_name names)"
                if name == "test":
                    logger.warning("%s: the test split is predicted, not scored", where)
                elif name == "train" and self.training_args.do_train:
                    raise InputError(f"{where}: nothing to train on")
                elif name == "validation" and self.training_args.do_eval:
                    raise InputError(f"{where}: nothing to score the validation split against")
        if self.label_list is None and self.splits.get("train"):
            self.label_list = build_label_list(self.splits["train"], self.args.label_scheme)

    def build_model(self):
        from .data import check_labels, max_window_length

        args, training_args = self.args, self.training_args
        model, self.tokenizer = build_model_and_tokenizer(args, self.label_list, training_args.do_train)
        if training_args.do_train and self.splits.get("train"):
            from .encoder_strategy import apply_encoder_strategy

            apply_encoder_strategy(model, args, training_args)
        limit = max_window_length(model, self.tokenizer)
        if args.max_seq_length is None:
            args.max_seq_length = limit
        elif args.max_seq_length > limit:  # a longer window would fail mid-training in the position embeddings
            raise InputError(f"--max_seq_length {args.max_seq_length} is longer than the model takes ({limit} tokens)")
        if self.splits.get("train") and args.word_split != "auto":
            model.config.word_split = args.word_split
        elif self.splits.get("train"):  # predict must split raw text as the training data was split
            from .data.cluener import is_span_json

            model.config.word_split = "characters" if is_span_json(self.splits["train"]) else "words"
        self.id2label = {int(i): tag for i, tag in model.config.id2label.items()}
        label2id = {tag: i for i, tag in self.id2label.items()}
        for sentences in self.splits.values():
            if any(sentence.tags is not None for sentence in sentences):
                check_labels(sentences, label2id)  # fail before training, not after it
        wanted = {
            "train": training_args.do_train,
            "validation": training_args.do_eval,
            "test": training_args.do_predict,
        }
        self.encoded = {
            name: EncodedSplit(name, self.splits[name], self.tokenizer, label2id, args, sort_by_length=name != "train")
            for name, wanted_split in wanted.items()
            if wanted_split and self.splits.get(name)
        }
        self.validation = self.encoded.get("validation")  # tagged: `load_data` refused untagged validation data
        return model

    @property
    def trains(self) -> bool:
        return "train" in self.encoded

    def build_trainer(self, model):
        from transformers import DataCollatorForTokenClassification

        from .data import PaddingFreeCollator, WordMaskCollator
        from .metrics import build_compute_metrics, predicted_tag_ids
        from .trainer import NERTrainer

        training_args, validation = self.training_args, self.validation
        if validation is None:
            self.without_validation()
        mixed_precision = training_args.fp16 or training_args.bf16
        padding = {"pad_to_multiple_of": 8} if mixed_precision else {}
        if self.args.pad_to_max_length:  # fixed shapes: no packing, every batch as wide as a window can be
            padding = {"padding": "max_length", "max_length": self.args.max_seq_length}
            if training_args.padding_free:
                logger.info("--pad_to_max_length: training batches are padded, not packed (padding_free off)")
                training_args.padding_free = False
        collator = WordMaskCollator(DataCollatorForTokenClassification(self.tokenizer, **padding))
        compute_metrics = None
        if validation is not None:
            compute_metrics = build_compute_metrics(
                self.id2label,
                validation.gold_tags,
                validation.alignment,
                self.args.strict,
                self.args.label_scheme,
                per_type=self.args.return_entity_level_metrics,
            )
        return NERTrainer(
            model=model,
            args=training_args,
            train_dataset=self.encoded["train"].dataset if "train" in self.encoded else None,
            eval_dataset=validation.dataset if validation else None,
            processing_class=self.tokenizer,
            data_collator=collator,
            train_data_collator=PaddingFreeCollator(collator) if training_args.padding_free else None,
            compute_metrics=compute_metrics,
            preprocess_logits_for_metrics=predicted_tag_ids,
            callbacks=self.callbacks,
        )

    def evaluate(self) -> dict:
        from trainer_common.io import write_text

        from .data import write_conll_predictions
        from .data.cluener import write_span_outputs
        from .metrics import classification_report_text, compute_ner_metrics

        trainer, out, strict = self.trainer, self.training_args.output_dir, self.args.strict
        scheme = self.args.label_scheme
        results = {f"{name}_windows": split.stats["windows"] for name, split in self.encoded.items()}
        if self.validation is not None:
            metrics = trainer.evaluate()  # its line reaches the console through `trainer.log`
            results.update(metrics)
            self.reports = {"validation": (self.validation.gold_tags, trainer.compute_metrics.word_tags)}
            if self.validation.is_span_json:  # the word tags of the evaluation just made
                predicted = trainer.compute_metrics.word_tags
                if trainer.is_world_process_zero():
                    results.update(write_span_outputs(out, "dev", self.validation.sentences, predicted, scheme))
        test = self.encoded.get("test")
        if test is None:
            return results
        predicted = test.word_predictions(trainer, self.id2label)
        self.test_predictions = (test.sentences, predicted)
        if trainer.is_world_process_zero():
            write_conll_predictions(f"{out}/test_predictions.txt", test.sentences, predicted, scheme, strict)
            if test.is_span_json:
                results.update(write_span_outputs(out, "test", test.sentences, predicted, scheme))
            if not test.has_tags:
                print(f"test · {len(test.sentences)} sentences predicted, not scored (no tags): "
                      f"{out}/test_predictions.txt", flush=True)  # fmt: skip
        if test.has_tags:
            metrics = {
                f"test_{k}": v for k, v in compute_ner_metrics(test.gold_tags, predicted, strict, scheme).items()
            }
            results.update(metrics)
            self.reports = {"test": (test.gold_tags, predicted)}
            if trainer.is_world_process_zero():
                self.console.show("test", metrics, trainer.state)
                write_text(
                    f"{out}/test_report.txt", classification_report_text(test.gold_tags, predicted, strict, scheme)
                )
        return results

    def summary(self, results: dict) -> str:
        """The per-type table of the test split (of the validation split without a tagged test split)."""
        from .metrics import classification_report_text

        for name, (gold, predicted) in getattr(self, "reports", {}).items():
            table = classification_report_text(gold, predicted, self.args.strict, self.args.label_scheme)
            return f"\n{name} entities, per type:\n{table}"
        return ""

    def write_figures(self) -> dict[str, str]:
        from .plots import write_training_curves

        log_history = self.trainer.state.log_history
        if not log_history or not self.trains:  # an evaluation only has no curves
            return {}
        return {"training_curves": write_training_curves(log_history, self.training_args.output_dir)}

    def prediction_tables(self) -> dict:
        from .card import prediction_table

        if getattr(self, "test_predictions", None) is None:
            return {}
        return {"test_predictions": prediction_table(*self.test_predictions, self.args.label_scheme)}

    def card_info(self, results: dict):
        from .card import card_info

        return card_info(self.args, self.training_args, self.trainer.model.config, results, trainer=self.trainer)


def train(args: NERArguments, training_args: NERTrainingArguments, callbacks: list | None = None) -> dict:
    """Train, evaluate and predict as the arguments say; write model, tokenizer, results and figures."""
    return NERRecipe(args, training_args, callbacks).run()


def main(argv: list[str] | None = None) -> dict:
    from trainer_common.args import parse_args

    args, training_args = parse_args((NERArguments, NERTrainingArguments), argv)
    return train(args, training_args)
