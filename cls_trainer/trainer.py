"""`ClassificationTrainer`: the classification task's `Trainer`, where its behaviour differs from transformers'."""

from trainer_common.encoder_trainer import EncoderTrainerMixin
from trainer_common.trainer import MultiLossTrainer


class ClassificationTrainer(EncoderTrainerMixin, MultiLossTrainer):
    """`MultiLossTrainer` with the encoder strategies' learning rates and LoRA merge (`EncoderTrainerMixin`), whose
    training batches may be packed (`packing.PackedSequenceCollator`).

    - `train_data_collator`, when given, collates the training batches only: evaluation and prediction keep one row
      per example, so that predictions come back in the examples' order.
    - A packed batch (it has `sequence_starts`) runs inside `packing.packed_batch`: the stock model's own forward
      and loss, on rows of several texts each.
    - The loss of a stock classifier is a batch mean, scaled for gradient accumulation by the Trainer.
    """

    def __init__(self, *args, train_data_collator=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_data_collator = train_data_collator
        self.label_names = ["labels"]
        # Stock classifiers take `**kwargs` but ignore `num_items_in_batch` (their loss is a batch mean): told they
        # accept it, the Trainer would skip dividing by the accumulation steps (transformers issue #47688).
        self.model_accepts_loss_kwargs = False

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if "sequence_starts" not in inputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        from .packing import packed_batch

        with packed_batch(model, inputs) as packed_inputs:
            return super().compute_loss(model, packed_inputs, return_outputs, num_items_in_batch)

    def get_train_dataloader(self):
        if self.train_data_collator is None:
            return super().get_train_dataloader()
        data_collator, self.data_collator = self.data_collator, self.train_data_collator
        try:
            return super().get_train_dataloader()
        finally:
            self.data_collator = data_collator
