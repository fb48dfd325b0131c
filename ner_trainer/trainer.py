"""`NERTrainer`: the `Trainer` of the tagging task, where its behaviour differs from transformers' own."""

from torch.utils.data import SequentialSampler

from trainer_common.trainer import MultiLossTrainer

from .data.samplers import ShuffledLengthGroupedSampler


class NERTrainer(MultiLossTrainer):
    """`MultiLossTrainer` with a training-only collator, per-part learning rates, and order-keeping evaluation.

    - `train_data_collator`, when given, collates the training batches only: evaluation and prediction need one row
      per window, to map predictions back to words.
    - `args.classifier_learning_rate` and `args.crf_learning_rate`, when set, give the head's parameters their own
      learning rates beside the encoder's (`args.learning_rate`); the model names the parts
      (`BertTagger.parameter_groups`). `args.layer_lr_decay` F gives each encoder layer the rate of the layer above
      times F (`learning_rates`). Frozen parameters are left out of the optimizer.
    - `save_model` (the final save, not a checkpoint's) merges LoRA adapters into the encoder's weights first, so
      that the saved tagger is a plain one; checkpoints keep the adapters, to resume from.
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

    def create_optimizer(self, model=None):
        model = self.model if model is None else model
        if self.optimizer is None and self._has_own_rates():
            decay = set(self.get_decay_parameter_names(model))
            rates = self.learning_rates(model)
            groups = {}
            for name, param in model.named_parameters():
                if param.requires_grad:  # frozen parameters stay out of the optimizer
                    weight_decay = self.args.weight_decay if name in decay else 0.0
                    groups.setdefault((rates[name], weight_decay), []).append(param)
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
            self.optimizer = optimizer_cls(
                [{"params": params, "lr": lr, "weight_decay": wd} for (lr, wd), params in groups.items()],
                **optimizer_kwargs,
            )
        return super().create_optimizer(model)

    def _has_own_rates(self) -> bool:
        names = ("classifier_learning_rate", "crf_learning_rate", "layer_lr_decay")
        return any(getattr(self.args, name, None) is not None for name in names)

    def learning_rates(self, model) -> dict[str, float]:
        """The learning rate of every parameter, by name. The head's parts (`BertTagger.parameter_groups`) at their
        own rates; the encoder at `learning_rate`, or with `layer_lr_decay` F its layers at depth d of L
        (`BertTagger.layer_depths`: 0 the embeddings, L the top layer) at `learning_rate * F ** (L - d)`."""
        args = self.args
        classifier_lr = getattr(args, "classifier_learning_rate", None)
        crf_lr = getattr(args, "crf_learning_rate", None)
        layer_decay = getattr(args, "layer_lr_decay", None)
        part_lrs = {"classifier": classifier_lr, "crf": crf_lr if crf_lr is not None else classifier_lr}
        depths = model.layer_depths() if layer_decay is not None else {}
        top = model.config.encoder.num_hidden_layers
        rates = {}
        for part, names in model.parameter_groups().items():
            for name in names:
                rates[name] = part_lrs.get(part) or args.learning_rate
                if part == "encoder" and layer_decay is not None:
                    rates[name] = args.learning_rate * layer_decay ** (top - depths[name])
        return rates

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        if not _internal_call:  # the final model: LoRA adapters merged into plain weights; checkpoints keep them
            from .lora import merge_lora

            merge_lora(self.model)
        super().save_model(output_dir, _internal_call)

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
