"""The `Trainer` side of the encoder fine-tuning strategies: the head's own learning rate, layer-wise learning-rate
decay, frozen parameters out of the optimizer, and LoRA adapters merged by the final save."""

from .encoder_parts import layer_depths, num_encoder_layers, parameter_groups


class EncoderTrainerMixin:
    """Mixin for a `Trainer` subclass (`class NERTrainer(EncoderTrainerMixin, MultiLossTrainer)`), for a `BertTagger`
    or a stock transformers model (`encoder_parts`).

    - `args.classifier_learning_rate`, when set, is the head's learning rate beside the encoder's
      (`args.learning_rate`); a task with more head parts gives each its rate in `part_learning_rates`.
      `args.layer_lr_decay` F gives each encoder layer the rate of the layer above times F (`learning_rates`).
      Frozen parameters are left out of the optimizer.
    - `save_model` (the final save, not a checkpoint's) merges LoRA adapters into the encoder's weights first, so
      that the saved model is a plain one (a stock model stays stock); checkpoints keep the adapters, to resume from.
    """

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

    def part_learning_rates(self) -> dict[str, float | None]:
        """The learning rate of each head part of `encoder_parts.parameter_groups`; None: `args.learning_rate`."""
        return {"classifier": getattr(self.args, "classifier_learning_rate", None)}

    def _has_own_rates(self) -> bool:
        rates = self.part_learning_rates().values()
        return getattr(self.args, "layer_lr_decay", None) is not None or any(rate is not None for rate in rates)

    def learning_rates(self, model) -> dict[str, float]:
        """The learning rate of every parameter, by name. The head's parts at their own rates
        (`part_learning_rates`); the encoder at `learning_rate`, or with `layer_lr_decay` F its layers at depth d of L
        (`encoder_parts.layer_depths`: 0 the embeddings, L the top layer) at `learning_rate * F ** (L - d)`."""
        base, decay = self.args.learning_rate, getattr(self.args, "layer_lr_decay", None)
        part_rates = self.part_learning_rates()
        depths = layer_depths(model) if decay is not None else {}
        top = num_encoder_layers(model)
        rates = {}
        for part, names in parameter_groups(model).items():
            for name in names:
                if part == "encoder" and decay is not None:
                    rates[name] = base * decay ** (top - depths[name])
                else:
                    rate = part_rates.get(part)
                    rates[name] = base if rate is None else rate
        return rates

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        if not _internal_call:  # the final model: LoRA adapters merged into plain weights; checkpoints keep them
            from .lora import merge_lora

            merge_lora(self.model)
        super().save_model(output_dir, _internal_call)


__all__ = ["EncoderTrainerMixin"]
