"""Variational autoencoder for MNIST as a `PreTrainedModel`.

Self-contained on purpose: only torch, transformers and the sibling configuration file, so that a checkpoint
saved with its code loads through `trust_remote_code=True` where this package is not installed.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from .configuration_vae import VAEConfig


@dataclass
class VAEOutput(ModelOutput):
    r"""
    Output of [`VAEModel`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, returned with `return_loss=True`):
            `recon_loss + kl_weight * kl_loss`, the negative evidence lower bound per image.
        recon_loss (`torch.FloatTensor` of shape `()`):
            Binary cross-entropy summed over the pixels, averaged over the images of the batch.
        kl_loss (`torch.FloatTensor` of shape `()`):
            KL(q(z|x) || N(0, I)) summed over the latent dimensions, averaged over the images of the batch.
        reconstruction (`torch.FloatTensor` of shape `(batch_size, input_dim)`):
            Decoder output: per-pixel Bernoulli means in [0, 1].
        mean (`torch.FloatTensor` of shape `(batch_size, latent_dim)`):
            Mean of q(z|x).
        logvar (`torch.FloatTensor` of shape `(batch_size, latent_dim)`):
            Log-variance of q(z|x).
    """

    loss: torch.FloatTensor | None = None
    recon_loss: torch.FloatTensor | None = None
    kl_loss: torch.FloatTensor | None = None
    reconstruction: torch.FloatTensor | None = None
    mean: torch.FloatTensor | None = None
    logvar: torch.FloatTensor | None = None


class VAEPreTrainedModel(PreTrainedModel):
    config_class = VAEConfig
    base_model_prefix = "vae"
    main_input_name = "pixel_values"

    def _init_weights(self, module):
        """Zero-mean Gaussian weights with std `config.initializer_range`, zero biases."""
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                init.zeros_(module.bias)


class VAEModel(VAEPreTrainedModel):
    r"""
    Encoder `input_dim -> hidden_dim` (ReLU) with two heads `hidden_dim -> latent_dim` for the mean and the
    standard deviation of q(z|x); z = mean + std * eps; decoder `latent_dim -> hidden_dim` (ReLU) `-> input_dim`
    (sigmoid).

    The standard-deviation head outputs log(std^2), the log-variance: any real output is then a valid std, and
    `exp(0.5 * logvar)` neither underflows to zero nor needs a positivity constraint.
    """

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        self.encoder = nn.Linear(config.input_dim, config.hidden_dim)
        self.mean_head = nn.Linear(config.hidden_dim, config.latent_dim)
        self.logvar_head = nn.Linear(config.hidden_dim, config.latent_dim)
        self.decoder_hidden = nn.Linear(config.latent_dim, config.hidden_dim)
        self.decoder_out = nn.Linear(config.hidden_dim, config.input_dim)
        self.post_init()

    def encode(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = F.relu(self.encoder(pixel_values))
        return self.mean_head(hidden), self.logvar_head(hidden)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder_out(F.relu(self.decoder_hidden(z)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z))

    @staticmethod
    def reparameterize(mean: torch.Tensor, logvar: torch.Tensor, generator=None) -> torch.Tensor:
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + torch.exp(0.5 * logvar) * eps

    def forward(self, pixel_values: torch.Tensor, return_loss: bool = True, **kwargs) -> VAEOutput:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(batch_size, input_dim)` or `(batch_size, H, W)`):
            Images with values in [0, 1].
        return_loss (`bool`, *optional*, defaults to `True`):
            Compute the loss. In eval mode z is still sampled, so the eval loss is the usual one-sample estimate.
        """
        x = pixel_values.reshape(pixel_values.shape[0], -1)
        mean, logvar = self.encode(x)
        z = self.reparameterize(mean, logvar)
        logits = self.decode_logits(z)
        reconstruction = torch.sigmoid(logits)
        loss = recon_loss = kl_loss = None
        if return_loss:
            batch_size = x.shape[0]
            # from the logits: stable where the sigmoid saturates, and a diverged (nan) model gives a nan loss for
            # the Trainer's divergence check instead of crashing binary_cross_entropy's [0, 1] input check
            recon_loss = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / batch_size
            kl_loss = -0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp()) / batch_size
            loss = recon_loss + self.config.kl_weight * kl_loss
        return VAEOutput(
            loss=loss,
            recon_loss=recon_loss,
            kl_loss=kl_loss,
            reconstruction=reconstruction,
            mean=mean,
            logvar=logvar,
        )

    @torch.no_grad()
    def sample(self, num_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode `num_samples` draws of z ~ N(0, I) into images of shape `(num_samples, image_size, image_size)`."""
        z = torch.randn(num_samples, self.config.latent_dim, generator=generator, device=self.device, dtype=self.dtype)
        side = self.config.image_size
        return self.decode(z).reshape(num_samples, side, side)


def register_auto_classes() -> None:
    """Make `AutoConfig`/`AutoModel` know the VAE, and make `save_pretrained` ship this code with `auto_map`."""
    from transformers import AutoConfig, AutoModel

    AutoConfig.register(VAEConfig.model_type, VAEConfig, exist_ok=True)
    AutoModel.register(VAEConfig, VAEModel, exist_ok=True)
    VAEConfig.register_for_auto_class()
    VAEModel.register_for_auto_class("AutoModel")


__all__ = ["VAEOutput", "VAEPreTrainedModel", "VAEModel", "register_auto_classes"]
