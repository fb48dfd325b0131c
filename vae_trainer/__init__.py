"""MNIST variational autoencoder trained with the Hugging Face `Trainer`."""

from .configuration_vae import VAEConfig
from .modeling_vae import VAEModel, VAEOutput, VAEPreTrainedModel, register_auto_classes

register_auto_classes()

__all__ = ["VAEConfig", "VAEModel", "VAEOutput", "VAEPreTrainedModel"]
