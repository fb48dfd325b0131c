"""`TextTrainer`: what the text tasks' `Trainer`s (NER, classification) share beyond `MultiLossTrainer`."""

import contextlib

from torch.utils.data import SequentialSampler

from .batches import ShuffledLengthGroupedSampler
from .cpu_dropout import cpu_dropout
from .cpu_memory import freed_memory_kept
from .trainer import MultiLossTrainer


class TextTrainer(MultiLossTrainer):
    """`MultiLossTrainer` with a training-only collator, shuffled length-grouped training batches, and order-keeping
    evaluation.

    - `train_data_collator`, when given, collates the training batches only (packed rows): evaluation and prediction
      keep one row per example, so that predictions map back to the examples.
    - With `train_sampling_strategy="group_by_length"`, training batches of similar lengths come in random order
      (`batches.shuffled_length_grouped_indices`), not in transformers' long-to-short sweeps.
    - Evaluation keeps the dataset's row order: transformers would also group evaluation batches by length, and
      predictions would come back in another order than the examples'.
    - `args.label_names` names the task's labels (tags, classes); the batches always hold them as "labels".
    - With `args.cpu_dropout`, dropout on a CPU draws its masks with `cpu_dropout`: a fifth of `bernoulli_`'s cost.
    - Training on a CPU keeps freed memory for reuse (`cpu_memory`) rather than faulting it in again every step.
    """

    def __init__(self, *args, train_data_collator=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_data_collator = train_data_collator
        self.label_names = ["labels"]

    def train(self, *args, **kwargs):
        with contextlib.ExitStack() as on_cpu:
            if self.args.device.type == "cpu":
                on_cpu.enter_context(freed_memory_kept())
                if getattr(self.args, "cpu_dropout", False):
                    on_cpu.enter_context(cpu_dropout(self.model))
            return super().train(*args, **kwargs)

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
        return ShuffledLengthGroupedSampler(lengths, batch, seed)

    def predict_without_metrics(self, dataset, metric_key_prefix: str = "test"):
        """`predict` without `compute_metrics`, which scores the validation split only (its gold labels, its word
        alignment): the predictions of another split, and its loss when it has labels."""
        compute_metrics, self.compute_metrics = self.compute_metrics, None
        try:
            return self.predict(dataset, metric_key_prefix=metric_key_prefix)
        finally:
            self.compute_metrics = compute_metrics

    def _get_eval_sampler(self, eval_dataset):
        if eval_dataset is None or self.args.world_size > 1:  # accelerate shards it in order
            return None
        return SequentialSampler(eval_dataset)
