"""`NERTrainer`: the `Trainer` of the tagging task, where its behaviour differs from transformers' own."""

from torch.utils.data import SequentialSampler

from trainer_common.encoder_trainer import EncoderTrainerMixin
from trainer_common.trainer import MultiLossTrainer

from .data.samplers import ShuffledLengthGroupedSampler


class NERTrainer(EncoderTrainerMixin, MultiLossTrainer):
    """`MultiLossTrainer` with the encoder strategies' learning rates and LoRA merge (`EncoderTrainerMixin`), a
    training-only collator, and order-keeping evaluation.

    - `train_data_collator`, when given, collates the training batches only: evaluation and prediction need one row
      per window, to map predictions back to words.
    - `args.classifier_learning_rate` and `args.crf_learning_rate`, when set, give the head's parameters their own
      learning rates beside the encoder's (`args.learning_rate`); the model names the parts
      (`BertTagger.parameter_groups`), the CRF's rate defaulting to the classifier's (`part_learning_rates`).
      `args.layer_lr_decay` F gives each encoder layer the rate of the layer above times F. Frozen parameters are
      left out of the optimizer. The final `save_model` merges LoRA adapters: the saved tagger is a plain one.
    - With `train_sampling_strategy="group_by_length"`, training batches of similar lengths come in random order
      (`data.shuffled_length_grouped_indices`), not in transformers' long-to-short sweeps.
    - `args.label_names` names the tags of integer tag ids in the data (`NERTrainingArguments`); the batches always
      hold the labels as "labels".
    - Evaluation keeps the dataset's row order. transformers would also shuffle evaluation batches by length, and
      predictions would come back in an order that cannot be mapped to words; our eval sets are already sorted by
      length, so sequential order costs nothing.
    """

    def __init__(self, *args, train_data_collator=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_data_collator = train_data_collator
        self.label_names = ["labels"]

    def part_learning_rates(self) -> dict[str, float | None]:
        rates = super().part_learning_rates()
        crf = getattr(self.args, "crf_learning_rate", None)
        rates["crf"] = crf if crf is not None else rates["classifier"]
        return rates

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

    def _get_eval_sampler(self, eval_dataset):
        if eval_dataset is None or self.args.world_size > 1:  # accelerate shards it in order
            return None
        return SequentialSampler(eval_dataset)
