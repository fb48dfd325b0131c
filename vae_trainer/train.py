"""Train the MNIST VAE with `Trainer`: arguments, data, training, evaluation and the figures."""

import logging
import math
from dataclasses import dataclass, field

from transformers import TrainingArguments

from .configuration_vae import VAEConfig

logger = logging.getLogger(__name__)


@dataclass
class VAEArguments:
    """Model and data arguments of `run_vae.py`."""

    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Start from a saved VAE (folder or Hub id) instead of a fresh one."}
    )
    hidden_dim: int = field(default=VAEConfig.hidden_dim, metadata={"help": "Hidden width of encoder and decoder."})
    latent_dim: int = field(default=VAEConfig.latent_dim, metadata={"help": "Dimension of the latent code z."})
    initializer_range: float = field(
        default=VAEConfig.initializer_range, metadata={"help": "Std of the Gaussian weight initialisation."}
    )
    kl_weight: float = field(
        default=VAEConfig.kl_weight, metadata={"help": "Weight of the KL term (1.0 = ELBO; other = beta-VAE)."}
    )
    data_dir: str | None = field(
        default=None,
        metadata={"help": "Folder with the four MNIST IDX files (.gz or raw). Default: the bundled MNIST copy."},
    )
    dataset_name: str | None = field(
        default=None, metadata={"help": "Hub dataset with `image`/`label` columns, e.g. ylecun/mnist."}
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "Config name of --dataset_name."})
    binarize: bool = field(default=False, metadata={"help": "Threshold pixels at 0.5 to {0, 1}."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only the first N training images."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N test images."})
    num_samples: int = field(default=10, metadata={"help": "Digits to generate into samples.png at the end."})
    wandb_project: str = field(default="vae-mnist", metadata={"help": "W&B project when --report_to wandb."})


@dataclass
class VAETrainingArguments(TrainingArguments):
    """`TrainingArguments` with the pytorch/examples VAE defaults: Adam, lr 1e-3, batch 128, 10 epochs."""

    output_dir: str | None = field(default="runs/vae", metadata={"help": "Where the model and figures go."})
    do_train: bool = field(default=True, metadata={"help": "Train (use --no_do_train to only evaluate)."})
    do_eval: bool = field(default=True, metadata={"help": "Evaluate on the test split."})
    learning_rate: float = field(default=1e-3, metadata={"help": "Adam learning rate."})
    lr_scheduler_type: str = field(default="constant", metadata={"help": "Learning-rate schedule."})
    max_grad_norm: float = field(default=0.0, metadata={"help": "Gradient clipping norm; 0 disables it."})
    per_device_train_batch_size: int = field(default=128, metadata={"help": "Training batch size per device."})
    per_device_eval_batch_size: int = field(default=1000, metadata={"help": "Evaluation batch size per device."})
    num_train_epochs: float = field(default=10.0, metadata={"help": "Number of training epochs."})
    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate on the test split."})
    save_strategy: str = field(default="epoch", metadata={"help": "When to save a checkpoint."})
    save_total_limit: int | None = field(default=1, metadata={"help": "Checkpoints to keep."})
    logging_steps: float = field(default=10, metadata={"help": "Log the training losses every N steps."})
    seed: int = field(default=1, metadata={"help": "Random seed (pytorch/examples uses 1)."})
    # Items are dicts of a tensor that the model accepts as is; nothing to filter.
    remove_unused_columns: bool = field(default=False, metadata={"help": "Drop inputs the model does not accept."})


def build_model(args: VAEArguments):
    from .modeling_vae import VAEModel

    if args.model_name_or_path:
        return VAEModel.from_pretrained(args.model_name_or_path)
    config = VAEConfig(
        hidden_dim=args.hidden_dim,
        latent_dim=args.latent_dim,
        initializer_range=args.initializer_range,
        kl_weight=args.kl_weight,
    )
    return VAEModel(config)


def train(args: VAEArguments, training_args: VAETrainingArguments, callbacks: list | None = None) -> dict:
    """Train and evaluate, then write the model, `all_results.json` and the figures to `output_dir`."""
    from transformers import set_seed

    from trainer_common.io import write_json
    from trainer_common.tracking import finish, log_images, setup_logging, setup_wandb
    from trainer_common.trainer import MultiLossTrainer

    from .data import collate, load_mnist
    from .plots import write_figures

    setup_logging(training_args)
    setup_wandb(training_args, args.wandb_project)
    set_seed(training_args.seed)

    train_set, test_set = load_mnist(args.data_dir, args.dataset_name, args.dataset_config_name, args.binarize)
    if args.max_train_samples:
        train_set.pixels = train_set.pixels[: args.max_train_samples]
    if args.max_eval_samples:
        test_set.pixels = test_set.pixels[: args.max_eval_samples]
    logger.info("MNIST: %d training and %d test images", len(train_set), len(test_set))

    model = build_model(args)
    trainer = MultiLossTrainer(
        model=model,
        args=training_args,
        train_dataset=train_set if training_args.do_train else None,
        eval_dataset=test_set if training_args.do_eval else None,
        data_collator=collate,
        loss_components=("recon_loss", "kl_loss"),
        callbacks=callbacks,
    )

    results = {}
    if training_args.do_train:
        train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        trainer.save_model()
        trainer.save_state()
        results.update(train_result.metrics)
        trainer.log_metrics("train", train_result.metrics)
    if training_args.do_eval:
        metrics = trainer.evaluate(metric_key_prefix="test")
        metrics["test_elbo_per_image"] = -metrics["test_loss"]
        results.update(metrics)
        trainer.log_metrics("test", metrics)

    if trainer.is_world_process_zero():
        write_json(f"{training_args.output_dir}/all_results.json", results)
        figures = write_figures(trainer, test_set, args.num_samples, seed=training_args.seed)
        log_images(trainer, figures)
    finish(trainer, tasks="image-generation", dataset_name=args.dataset_name or "mnist", tags=["vae", "mnist"])
    if "test_loss" in results and not math.isfinite(results["test_loss"]):
        raise ValueError(f"training diverged: test loss is {results['test_loss']}")
    return results


def main(argv: list[str] | None = None) -> dict:
    from trainer_common.args import parse_args

    args, training_args = parse_args((VAEArguments, VAETrainingArguments), argv)
    return train(args, training_args)
