"""MNIST variational autoencoder trained with the Hugging Face `Trainer`.

`vae_trainer.load_vae(folder)` gives `generate` and `reconstruct` from Python (see `api.py`).
"""

from .configuration_vae import VAEConfig
from .modeling_vae import VAEModel, VAEOutput, VAEPreTrainedModel, register_auto_classes

register_auto_classes()

_API = ("VAE", "load_vae")  # loaded on first use, as the command-line scripts do not need them


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["VAEConfig", "VAEModel", "VAEOutput", "VAEPreTrainedModel", *_API]
