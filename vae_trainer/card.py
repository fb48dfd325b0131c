"""The VAE's model card: the model, its intended use and limitations, its test ELBO overall and per epoch, the
samples image, and how to sample from it."""

from trainer_common.model_card import (
    CardInfo,
    card_metrics,
    describe_source,
    evaluations,
    history_table,
    hub_id,
    hyperparameters,
    model_reference,
    training_log,
)

SCORES = (("elbo_per_image", "Test ELBO per image (nats)"), ("recon_loss", "Test reconstruction BCE per image"),
          ("kl_loss", "Test KL per image"))  # fmt: skip


def _elbo(row: dict) -> float | None:
    if "eval_recon_loss" not in row or "eval_kl_loss" not in row:
        return None
    return -(row["eval_recon_loss"] + row["eval_kl_loss"])


# evaluations during training score the test split (MNIST has no other held-out one)
HISTORY = [("test loss", "eval_loss"), ("reconstruction BCE", "eval_recon_loss"), ("KL", "eval_kl_loss"),
           ("ELBO", _elbo)]  # fmt: skip


def card_info(args, training_args, config, results: dict, trainer=None) -> CardInfo:
    """`CardInfo` of a trained VAE from the run's results and the trainer's log history (`trainer`; without it,
    the `trainer_state.json` saved in `output_dir`)."""
    # the bundled data is MNIST; other IDX files (--data_dir) are unnamed
    dataset = hub_id(args.dataset_name) if args.dataset_name else None if args.data_dir else "ylecun/mnist"
    data = f"`{dataset}`" if dataset else "the IDX files of `--data_dir`" if args.data_dir else "MNIST"
    summary = (
        f"A variational autoencoder on MNIST digits: {config.input_dim} -> {config.hidden_dim} -> latent "
        f"{config.latent_dim} -> {config.hidden_dim} -> {config.input_dim}, Bernoulli decoder, KL weight "
        f"{config.kl_weight}. Trained with hf-trainer-toolkit's `run_vae.py` on {data}."
    )
    intended_use = (
        f"Intended for sampling and reconstructing 28x28 grayscale images like its training data ({data}), for "
        "teaching, or as a baseline for other generative models. It was evaluated only on that data's test split "
        "(ELBO, reconstruction and KL), its samples are blurry, and it is not a classifier nor a model of other "
        "images."
    )
    samples = "## Samples\n\n![digits decoded from z ~ N(0, I)](samples.png)\n"
    usage = f'''from transformers import AutoModel

vae = AutoModel.from_pretrained("{model_reference(training_args, trainer)}", trust_remote_code=True)
digits = vae.sample(10)  # (10, 28, 28) images in [0, 1]'''
    start = describe_source(args.model_name_or_path) if args.model_name_or_path else None
    history = training_log(training_args, trainer)
    return CardInfo(
        summary=summary, pipeline_tag="unconditional-image-generation",
        task_name="Unconditional image generation", tags=["vae", "mnist", "generative"], usage=usage,
        base_model=start.hub_id if start else None, datasets=[dataset] if dataset else None,
        dataset_name=dataset or "MNIST", license=training_args.license or (start.license if start else None),
        metrics=card_metrics(results, SCORES), intended_use=intended_use, sections=[samples],
        history=history_table(evaluations(history), HISTORY), hyperparameters=hyperparameters(training_args, history),
    )  # fmt: skip
