"""`NERTrainer`: the `Trainer` of the tagging task, where its behaviour differs from transformers' own."""

from trainer_common.encoder_trainer import EncoderTrainerMixin
from trainer_common.text_trainer import TextTrainer


class NERTrainer(EncoderTrainerMixin, TextTrainer):
    """`TextTrainer` (a training-only collator for packed rows, shuffled length-grouped batches, order-keeping
    evaluation: predictions map back to words) with the encoder strategies' learning rates and LoRA merge
    (`EncoderTrainerMixin`).

    - `args.classifier_learning_rate` and `args.crf_learning_rate`, when set, give the head's parameters their own
      learning rates beside the encoder's (`args.learning_rate`); the model names the parts
      (`BertTagger.parameter_groups`), the CRF's rate defaulting to the classifier's (`part_learning_rates`).
      `args.layer_lr_decay` F gives each encoder layer the rate of the layer above times F. Frozen parameters are
      left out of the optimizer. The final `save_model` merges LoRA adapters: the saved tagger is a plain one.
    - `args.label_names` names the tags of integer tag ids in the data (`NERTrainingArguments`).
    """

    def part_learning_rates(self) -> dict[str, float | None]:
        rates = super().part_learning_rates()
        crf = getattr(self.args, "crf_learning_rate", None)
        rates["crf"] = crf if crf is not None else rates["classifier"]
        return rates
