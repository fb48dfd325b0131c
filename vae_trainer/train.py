"""Train the MNIST VAE with `Trainer`: arguments, data, training, evaluation and the figures."""

import logging
import math
from dataclasses import dataclass, field, fields
from typing import ClassVar

from trainer_common.errors import InputError
from trainer_common.recipe import Recipe
from trainer_common.training_args import TaskTrainingArguments

from .configuration_vae import VAEConfig

logger = logging.getLogger(__name__)

MAX_SAMPLES = 1024  # generated digits are decoded in one batch and written one file each
MAX_WIDTH = 65536  # of a layer: 784 x 65536 weights are 200 MB already; a larger width is a typo, not a model
# the flags that set a new model's config: each must agree with a saved --model_name_or_path when given
CONFIG_FLAGS = ("hidden_dim", "latent_dim", "initializer_range", "kl_weight")


@dataclass
class VAEArguments:
    """Model and data arguments of `run_vae.py`."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Start from a saved VAE (folder or Hub id) instead of a fresh one.", "group": "model"},
    )
    hidden_dim: int = field(
        default=VAEConfig.hidden_dim, metadata={"help": "Hidden width of encoder and decoder.", "group": "model"}
    )
    latent_dim: int = field(
        default=VAEConfig.latent_dim, metadata={"help": "Dimension of the latent code z.", "group": "model"}
    )
    initializer_range: float = field(
        default=VAEConfig.initializer_range,
        metadata={"help": "Std of the Gaussian weight initialisation.", "group": "model"},
    )
    kl_weight: float = field(
        default=VAEConfig.kl_weight,
        metadata={"help": "Weight of the KL term (1.0 = ELBO; other = beta-VAE).", "group": "model"},
    )
    data_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder with the four MNIST IDX files (.gz or raw). Default: the bundled MNIST copy.",
            "group": "data",
        },
    )
    dataset_name: str | None = field(
        default=None,
        metadata={"help": "Hub dataset with `image`/`label` columns, e.g. ylecun/mnist.", "group": "data"},
    )
    dataset_config_name: str | None = field(
        default=None, metadata={"help": "Config name of --dataset_name.", "group": "data"}
    )
    binarize: bool = field(default=False, metadata={"help": "Threshold pixels at 0.5 to {0, 1}.", "group": "data"})
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Use only the first N training images.", "group": "data"}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Use only the first N test images.", "group": "data"}
    )
    num_samples: int = field(
        default=10, metadata={"help": "Digits to generate into samples.png at the end.", "group": "outputs and run"}
    )
    wandb_project: str = field(
        default="vae-mnist", metadata={"help": "W&B project when --report_to wandb.", "group": "outputs and run"}
    )

    def __post_init__(self):
        from trainer_common.validation import check_range

        for option in ("model_name_or_path", "data_dir", "dataset_name"):
            if getattr(self, option) is not None and not str(getattr(self, option)).strip():
                raise InputError(f"--{option} is empty: give one or leave the flag out")
        check_range("hidden_dim", self.hidden_dim, 1, MAX_WIDTH)
        check_range("latent_dim", self.latent_dim, 1, MAX_WIDTH)
        check_range("initializer_range", self.initializer_range, 0, above=True)
        check_range("kl_weight", self.kl_weight, 0)
        check_range("max_train_samples", self.max_train_samples, 1)
        check_range("max_eval_samples", self.max_eval_samples, 1)
        check_range("num_samples", self.num_samples, 1, MAX_SAMPLES)


@dataclass
class VAETrainingArguments(TaskTrainingArguments):
    """`TrainingArguments` with the pytorch/examples VAE defaults: Adam, lr 1e-3, batch 128, 10 epochs."""

    output_dir: str | None = field(
        default="runs/vae", metadata={"help": "Where the model and figures go.", "group": "outputs and run"}
    )
    learning_rate: float = field(default=1e-3, metadata={"help": "Adam learning rate.", "group": "training"})
    lr_scheduler_type: str = field(
        default="constant", metadata={"help": "Learning-rate schedule.", "group": "training"}
    )
    max_grad_norm: float = field(
        default=0.0, metadata={"help": "Gradient clipping norm; 0 disables it.", "group": "training"}
    )
    per_device_train_batch_size: int = field(
        default=128, metadata={"help": "Training batch size per device.", "group": "training"}
    )
    per_device_eval_batch_size: int = field(
        default=1000, metadata={"help": "Evaluation batch size per device.", "group": "training"}
    )
    num_train_epochs: float = field(default=10.0, metadata={"help": "Number of training epochs.", "group": "training"})
    default_logging_steps: ClassVar[int] = 10
    seed: int = field(default=1, metadata={"help": "Random seed (pytorch/examples uses 1).", "group": "training"})
    # Items are dicts of a tensor that the model accepts as is; nothing to filter.
    remove_unused_columns: bool = field(default=False, metadata={"help": "Drop inputs the model does not accept."})


def build_model(args: VAEArguments):
    from .modeling_vae import VAEModel

    if args.model_name_or_path:
        from trainer_common.loading import load_checked

        model = load_checked(VAEModel, args.model_name_or_path, (VAEConfig.model_type,))
        _check_config_flags(args, model.config)
        return model
    config = VAEConfig(
        hidden_dim=args.hidden_dim,
        latent_dim=args.latent_dim,
        initializer_range=args.initializer_range,
        kl_weight=args.kl_weight,
    )
    return VAEModel(config)


def _check_config_flags(args: VAEArguments, saved: VAEConfig) -> None:
    """A size (or loss weight) flag given along with a saved model must be the saved model's: the saved one trains,
    so another value would be silently ignored."""
    defaults = {field.name: field.default for field in fields(VAEArguments)}
    for option in CONFIG_FLAGS:
        given, kept = getattr(args, option), getattr(saved, option)
        if given != defaults[option] and given != kept:
            raise InputError(
                f"--{option} {given} differs from the {kept} of --model_name_or_path {args.model_name_or_path}, "
                f"which keeps its own; leave --{option} out or start a new model"
            )


class VAERecipe(Recipe):
    """`run_vae.py`: train on MNIST, evaluate on its test split, write the figures."""

    package = __package__
    task = "vae"
    # what a checkpoint to resume from must share with this run's model (`Recipe.check_resume`): the sizes that
    # shape the weights, and the loss's KL weight
    resume_fields = ("input_dim", "hidden_dim", "latent_dim", "image_size", "kl_weight")
    eval_columns = (("loss", "loss"), ("recon_loss", "recon"), ("kl_loss", "KL"))
    train_columns = (("recon_loss", "recon"), ("kl_loss", "KL"))

    def load_data(self) -> None:
        from .data import load_mnist

        args = self.args
        self.train_set, self.test_set = load_mnist(
            args.data_dir, args.dataset_name, args.dataset_config_name, args.binarize, self.training_args.do_train
        )
        if args.max_train_samples:
            self.train_set.pixels = self.train_set.pixels[: args.max_train_samples]
        if args.max_eval_samples:
            self.test_set.pixels = self.test_set.pixels[: args.max_eval_samples]
        logger.info("MNIST: %d training and %d test images", len(self.train_set), len(self.test_set))

    def build_model(self):
        return build_model(self.args)

    def build_trainer(self, model):
        from trainer_common.trainer import MultiLossTrainer

        from .data import collate

        return MultiLossTrainer(
            model=model,
            args=self.training_args,
            train_dataset=self.train_set if self.training_args.do_train else None,
            eval_dataset=self.test_set if self.training_args.do_eval else None,
            data_collator=collate,
            loss_components=("recon_loss", "kl_loss"),
            callbacks=self.callbacks,
        )

    def evaluate(self) -> dict:
        if not self.training_args.do_eval:
            return {}
        metrics = self.trainer.evaluate(metric_key_prefix="test")
        # the ELBO is recon + KL whatever --kl_weight trained with; test_loss is the weighted training objective
        metrics["test_elbo_per_image"] = -(metrics["test_recon_loss"] + metrics["test_kl_loss"])
        if not math.isfinite(metrics["test_loss"]):
            raise InputError(f"training diverged: test loss is {metrics['test_loss']}")
        return metrics

    def write_figures(self) -> dict[str, str]:
        from .plots import write_figures

        args, seed = self.args, self.training_args.seed
        return write_figures(self.trainer, self.test_set, args.num_samples, seed=seed, trained=self.trains)

    def summary(self, results: dict) -> str:
        if "test_elbo_per_image" not in results:
            return ""
        return (
            f"\ntest ({len(self.test_set)} images): ELBO {results['test_elbo_per_image']:.2f} nats per image = "
            f"-(reconstruction BCE {results['test_recon_loss']:.2f} + KL {results['test_kl_loss']:.2f}); "
            f"training objective (KL weight {self.trainer.model.config.kl_weight}) {results['test_loss']:.2f}"
        )

    def card_info(self, results: dict):
        from .card import card_info

        return card_info(self.args, self.training_args, self.trainer.model.config, results, trainer=self.trainer)


def train(args: VAEArguments, training_args: VAETrainingArguments, callbacks: list | None = None) -> dict:
    """Train and evaluate, then write the model, `all_results.json` and the figures to `output_dir`."""
    return VAERecipe(args, training_args, callbacks).run()


def main(argv: list[str] | None = None) -> dict:
    from trainer_common.args import parse_args

    args, training_args = parse_args((VAEArguments, VAETrainingArguments), argv)
    return train(args, training_args)
