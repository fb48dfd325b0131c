"""`ClassificationTrainer`: the classification task's `Trainer`, where its behaviour differs from transformers'."""

from trainer_common.encoder_trainer import EncoderTrainerMixin
from trainer_common.text_trainer import TextTrainer


class ClassificationTrainer(EncoderTrainerMixin, TextTrainer):
    """`TextTrainer` (a training-only collator for packed rows, shuffled length-grouped batches, order-keeping
    evaluation) with the encoder strategies' learning rates and LoRA merge (`EncoderTrainerMixin`).

    - A packed batch (it has `sequence_starts`) runs inside `packing.packed_batch`: the stock model's own forward
      and loss, on rows of several texts each.
    - The loss of a stock classifier is a batch mean, scaled for gradient accumulation by the Trainer.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Stock classifiers take `**kwargs` but ignore `num_items_in_batch` (their loss is a batch mean): told they
        # accept it, the Trainer would skip dividing by the accumulation steps (transformers issue #47688).
        self.model_accepts_loss_kwargs = False

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if "sequence_starts" not in inputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        from .packing import packed_batch

        with packed_batch(model, inputs) as packed_inputs:
            return super().compute_loss(model, packed_inputs, return_outputs, num_items_in_batch)
