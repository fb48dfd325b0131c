"""The VAE's model card: the model, its test ELBO, the samples image, and how to sample from it."""

from trainer_common.model_card import CardInfo, card_metrics, hub_id, model_name

SCORES = (("elbo_per_image", "Test ELBO per image (nats)"), ("recon_loss", "Test reconstruction BCE per image"),
          ("kl_loss", "Test KL per image"))  # fmt: skip


def card_info(args, training_args, config, results: dict) -> CardInfo:
    # the bundled data is MNIST; other IDX files (--data_dir) are unnamed
    dataset = hub_id(args.dataset_name) if args.dataset_name else None if args.data_dir else "ylecun/mnist"
    summary = (
        f"A variational autoencoder on MNIST digits: {config.input_dim} -> {config.hidden_dim} -> latent "
        f"{config.latent_dim} -> {config.hidden_dim} -> {config.input_dim}, Bernoulli decoder, KL weight "
        f"{config.kl_weight}. Trained with hf-trainer-toolkit's `run_vae.py`."
    )
    samples = "## Samples\n\n![digits decoded from z ~ N(0, I)](samples.png)\n"
    repo = model_name(training_args)
    usage = f'''from transformers import AutoModel

vae = AutoModel.from_pretrained("{repo}", trust_remote_code=True)
digits = vae.sample(10)  # (10, 28, 28) images in [0, 1]'''
    return CardInfo(
        summary=summary, pipeline_tag="unconditional-image-generation",
        task_name="Unconditional image generation", tags=["vae", "mnist", "generative"], usage=usage,
        base_model=hub_id(args.model_name_or_path), datasets=[dataset] if dataset else None,
        dataset_name=dataset or "MNIST", metrics=card_metrics(results, SCORES), sections=[samples],
    )  # fmt: skip
