"""Fine-tune a stock sequence classifier with `Trainer`: data, model, training, evaluation, predictions, figures."""

import logging

from trainer_common.errors import InputError
from trainer_common.recipe import Recipe

from .arguments import ClassificationArguments, ClassificationTrainingArguments

logger = logging.getLogger(__name__)


class EncodedSplit:
    """One split's examples, encoded and held as a `datasets.Dataset` in the examples' order."""

    def __init__(self, name: str, examples, tokenizer, label2id: dict[str, int], max_seq_length: int):
        from .data import encode_examples, to_dataset

        self.name, self.examples = name, examples
        self.has_labels = examples[0].label is not None
        features, self.stats = encode_examples(examples, tokenizer, label2id if self.has_labels else None,
                                               max_seq_length)  # fmt: skip
        self.dataset = to_dataset(features)
        logger.info("%s: %d examples, %d cut to %d tokens (classified on their first tokens)", name,
                    self.stats["examples"], self.stats["truncated"], max_seq_length)  # fmt: skip

    @property
    def gold(self) -> list[int]:
        return self.dataset["labels"]

    def predict(self, trainer):
        """Class probabilities `(n, num_labels)` of every example, in order, and the loss when labelled."""
        import torch

        output = trainer.predict_without_metrics(self.dataset, self.name)
        loss = {key: value for key, value in output.metrics.items() if key == f"{self.name}_loss"}
        return torch.as_tensor(output.predictions).float().softmax(-1).numpy(), loss


class ClassificationRecipe(Recipe):
    """`run_classification.py`: fine-tune on the train split, evaluate on validation, predict and score the test
    split."""

    package = __package__
    task = "classification"
    # what a checkpoint to resume from must share with this run's model (`Recipe.check_resume`)
    resume_fields = ("id2label", "model_type", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "vocab_size", "max_position_embeddings", "type_vocab_size",
                     "freeze_encoder", "freeze_layers", "layer_lr_decay", "lora_r", "lora_alpha",
                     "lora_target_modules")  # fmt: skip
    eval_columns = (("loss", "loss"), ("accuracy", "acc"), ("macro_f1", "macro F1"), ("mcc", "MCC"))

    def load_data(self) -> None:
        from .data import build_label_list, load_examples
        from .modeling import saved_label_names

        args, training_args = self.args, self.training_args
        args.log_no_effect()
        # a saved classifier's labels name the data's integer labels, and fix the label order
        saved = saved_label_names(args)
        if saved and training_args.label_names and training_args.label_names != saved:
            given, own = ",".join(training_args.label_names), ",".join(saved)
            raise InputError(f"--label_names {given}: {args.model_name_or_path} is a classifier of the labels {own}, "
                             "in that order: leave --label_names out")  # fmt: skip
        label_names = training_args.label_names or saved
        self.splits, self.label_list = load_examples(args, training_args.seed, label_names)
        if training_args.do_train and not self.splits.get("train"):
            raise InputError("--do_train needs training data: give --train_file, --dataset_name or --task_name")
        for name, examples in self.splits.items():
            if examples and examples[0].label is None:
                where = f"{_origin(examples[0].source)}: no labels"
                if name == "test":
                    logger.warning("%s: the test split is predicted, not scored", where)
                elif name == "train" and training_args.do_train:
                    raise InputError(f"{where}: nothing to train on")
                elif name == "validation" and training_args.do_eval:
                    raise InputError(f"{where}: nothing to score the validation split against")
        train = self.splits.get("train")
        if training_args.do_train and train and len({example.label for example in train}) < 2:
            limit = " (--max_train_samples takes the first N rows)" if args.max_train_samples else ""
            raise InputError(f"{_origin(train[0].source)}: the training data has only the label {train[0].label!r}"
                             f"{limit}: a classifier needs examples of at least two")  # fmt: skip
        if self.label_list is None and train:
            self.label_list = build_label_list(train)

    def build_model(self):
        from .data import check_labels
        from .metrics import check_label_names
        from .modeling import build_model_and_tokenizer, check_max_seq_length

        args, training_args = self.args, self.training_args
        model, self.tokenizer = build_model_and_tokenizer(args, self.label_list, training_args.do_train)
        if training_args.do_train and self.splits.get("train"):
            from trainer_common.encoder_strategy import apply_encoder_strategy

            apply_encoder_strategy(model, args, training_args)
        check_max_seq_length(args, model, self.tokenizer)
        self.id2label = {int(i): label for i, label in model.config.id2label.items()}
        check_label_names(self.label_names)  # a label the metrics' keys cannot hold fails before training
        label2id = {label: i for i, label in self.id2label.items()}
        for examples in self.splits.values():
            if examples and examples[0].label is not None:
                check_labels(examples, label2id)  # fail before training, not after it
        wanted = {"train": training_args.do_train, "validation": training_args.do_eval,
                  "test": training_args.do_predict}  # fmt: skip
        self.encoded = {
            name: EncodedSplit(name, self.splits[name], self.tokenizer, label2id, args.max_seq_length)
            for name, wanted_split in wanted.items()
            if wanted_split and self.splits.get(name)
        }
        self.validation = self.encoded.get("validation")
        return model

    @property
    def trains(self) -> bool:
        return "train" in self.encoded

    @property
    def label_names(self) -> list[str]:
        return [self.id2label[i] for i in sorted(self.id2label)]

    def build_trainer(self, model):
        from transformers import DataCollatorWithPadding

        from .metrics import build_compute_metrics
        from .packing import PackedSequenceCollator, packing_refusal
        from .trainer import ClassificationTrainer

        args, training_args, validation = self.args, self.training_args, self.validation
        if validation is None:
            self.without_validation()
        padding = {"pad_to_multiple_of": 8} if training_args.fp16 or training_args.bf16 else {}
        if args.pad_to_max_length:  # fixed shapes: no packing, every batch as wide as a text may be
            padding = {"padding": "max_length", "max_length": args.max_seq_length}
            if training_args.padding_free:
                logger.info("--pad_to_max_length: training batches are padded, not packed (padding_free off)")
                training_args.padding_free = False
        collator = DataCollatorWithPadding(self.tokenizer, **padding)
        packed = None
        if training_args.padding_free and self.trains:
            refusal = packing_refusal(model)
            if refusal:
                logger.info("training batches are padded, not packed: %s", refusal)
            packed = None if refusal else PackedSequenceCollator(collator)
        compute_metrics = build_compute_metrics(self.label_names) if validation is not None else None
        return ClassificationTrainer(
            model=model,
            args=training_args,
            train_dataset=self.encoded["train"].dataset if self.trains else None,
            eval_dataset=validation.dataset if validation else None,
            processing_class=self.tokenizer,
            data_collator=collator,
            train_data_collator=packed,
            compute_metrics=compute_metrics,
            callbacks=self.callbacks,
        )

    def evaluate(self) -> dict:
        from trainer_common.io import write_text

        from .metrics import classification_metrics, confusion_matrix, confusion_table_text, report_text
        from .outputs import write_test_predictions

        trainer, out = self.trainer, self.training_args.output_dir
        main = trainer.is_world_process_zero()
        results, self.scored = {}, None
        if self.validation is not None:
            results.update(trainer.evaluate())  # its line reaches the console through `trainer.log`
        test = self.encoded.get("test")
        if test is not None:
            probabilities, loss = test.predict(trainer)
            predicted = probabilities.argmax(-1).tolist()
            self.test_predictions = (test.examples, predicted, probabilities)
            if main:
                write_test_predictions(f"{out}/test_predictions.tsv", test.examples, predicted, probabilities,
                                       self.label_names)  # fmt: skip
                if not test.has_labels:
                    print(f"test · {len(test.examples)} examples predicted, not scored (no labels): "
                          f"{out}/test_predictions.tsv", flush=True)  # fmt: skip
            if test.has_labels:
                scores = classification_metrics(test.gold, predicted, self.label_names)
                metrics = loss | {f"test_{key}": value for key, value in scores.items()}
                results.update(metrics)
                self.scored = ("test", test.gold, predicted)
                if main:
                    self.console.show("test", metrics, trainer.state)
        if self.scored is None and self.validation is not None:  # the report and matrix of the validation split
            predicted = trainer.compute_metrics.predicted_ids  # of the evaluation just made
            self.scored = ("validation", self.validation.gold, [int(i) for i in predicted])
        if self.scored is not None:
            name, gold, predicted = self.scored
            self.confusion = confusion_matrix(gold, predicted, len(self.label_names))
            if main and name == "test":
                text = report_text(gold, predicted, self.label_names)
                text += "\nconfusion matrix (rows: gold, columns: predicted)\n"
                text += confusion_table_text(self.confusion, self.label_names)
                write_text(f"{out}/test_report.txt", text)
        return results

    def summary(self, results: dict) -> str:
        """The per-class table and the confusion matrix of the test split (of validation without a labelled test)."""
        from .metrics import confusion_table_text, report_text

        if self.scored is None:
            return ""
        name, gold, predicted = self.scored
        table = report_text(gold, predicted, self.label_names)
        matrix = confusion_table_text(self.confusion, self.label_names)
        return f"\n{name} split, per class:\n{table}\nconfusion matrix (rows: gold, columns: predicted)\n{matrix}"

    def write_figures(self) -> dict[str, str]:
        from .plots import write_confusion_matrix, write_training_curves

        out, figures = self.training_args.output_dir, {}
        log_history = self.trainer.state.log_history
        if log_history and self.trains:
            figures["training_curves"] = write_training_curves(log_history, out)
        if self.scored is not None:
            figures["confusion_matrix"] = write_confusion_matrix(self.confusion, self.label_names,
                                                                 f"{out}/confusion_matrix.png")  # fmt: skip
        return figures

    def prediction_tables(self) -> dict:
        from .outputs import prediction_table

        if getattr(self, "test_predictions", None) is None:
            return {}
        return {"test_predictions": prediction_table(*self.test_predictions, self.label_names)}

    def card_info(self, results: dict):
        from .card import card_info

        train = self.splits.get("train") or [None]
        pairs = train[0] is not None and train[0].text_pair is not None
        return card_info(self.args, self.training_args, self.trainer.model.config, results, self.trainer, pairs)


def _origin(source: str) -> str:
    """The file or Hub split of an example's `source` ("train.tsv:17", "nyu-mll/glue/sst2 train row 17")."""
    path, _, line = source.rpartition(":")
    return path if line.isdigit() else source.partition(" row ")[0]


def train(args: ClassificationArguments, training_args: ClassificationTrainingArguments,
          callbacks: list | None = None) -> dict:  # fmt: skip
    """Train, evaluate and predict as the arguments say; write model, tokenizer, results and figures."""
    return ClassificationRecipe(args, training_args, callbacks).run()


def main(argv: list[str] | None = None) -> dict:
    from trainer_common.args import parse_args

    args, training_args = parse_args((ClassificationArguments, ClassificationTrainingArguments), argv)
    return train(args, training_args)
