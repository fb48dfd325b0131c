"""The Python API: `vae = vae_trainer.load_vae("runs/vae"); vae.generate(16); vae.reconstruct(images)`.

`run_vae.py generate` loads its model through `load_vae`, with the same checks, and draws the same digits for a seed.
"""

import os

from trainer_common.cli import loading_bars_on_terminal_only
from trainer_common.devices import resolve_device
from trainer_common.errors import InputError

SEED_RANGE = (-(2**63), 2**64 - 1)  # what torch.Generator.manual_seed takes
MAX_GENERATE = 100_000  # digits decoded in one batch: 100,000 28x28 images are 300 MB of float32


def _check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise InputError(f"seed must be an integer in [{SEED_RANGE[0]}, {SEED_RANGE[1]}], got {seed!r}")


class VAE:
    """A loaded `VAEModel` (in eval mode, on its device); made by [`load_vae`]. Images are float tensors on the
    CPU with pixels in [0, 1]."""

    def __init__(self, model):
        self.model = model

    def __repr__(self) -> str:
        config = self.model.config
        return (
            f"VAE({config.name_or_path!r}, device={str(self.model.device)!r}, image_size={config.image_size}, "
            f"hidden_dim={config.hidden_dim}, latent_dim={config.latent_dim})"
        )

    @property
    def image_size(self) -> int:
        return self.model.config.image_size

    def generate(self, num_samples: int, seed: int = 0):
        """Decode `num_samples` draws of z ~ N(0, I): a tensor `(num_samples, 28, 28)` in [0, 1]. The same seed on
        the same device gives the same digits, the ones `run_vae.py generate --seed` writes."""
        from .plots import sample_digits

        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or not 1 <= num_samples <= MAX_GENERATE:
            raise InputError(f"num_samples must be an integer from 1 to {MAX_GENERATE}, got {num_samples!r}")
        _check_seed(seed)
        return sample_digits(self.model, num_samples, seed)

    def reconstruct(self, images, seed: int = 0):
        """Encode and decode `images`: the model's forward pass, z drawn from q(z|x) as in training's
        `reconstructions.png`, with the random state seeded by `seed` (and the global one left as it was).

        Args:
            images: a tensor, numpy array or nested list of shape `(n, 28, 28)` or `(n, 784)`; uint8 (or any
                integer type) pixels in 0-255, or float pixels in [0, 1].

        Returns a float tensor of the same shape as `images`, on the CPU, pixels in [0, 1].
        """
        import torch

        _check_seed(seed)
        pixels = self._pixels(images)
        devices = [self.model.device] if self.model.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(seed)
            reconstruction = self.model(pixels.to(self.model.device), return_loss=False).reconstruction
        return reconstruction.float().reshape(pixels.shape).cpu()

    def _pixels(self, images):
        """`images` as a float tensor in [0, 1] of their own shape, or `InputError` naming the shape or range."""
        import torch

        if images is None or isinstance(images, str | bytes):
            raise TypeError(
                f"images must be a tensor, numpy array or nested list of pixels, got {type(images).__name__}"
            )
        try:
            pixels = torch.as_tensor(images)
        except (TypeError, ValueError, RuntimeError) as err:  # ragged lists, objects that are no numbers
            raise TypeError(f"images must be a tensor, numpy array or nested list of pixels: {err}") from None
        side = self.image_size
        if tuple(pixels.shape[1:]) not in ((side, side), (side * side,)):
            raise InputError(
                f"images must be of shape (n, {side}, {side}) or (n, {side * side}), got {tuple(pixels.shape)}"
            )
        if not len(pixels):
            raise InputError(f"images is empty (shape {tuple(pixels.shape)}): give at least one image")
        if pixels.dtype == torch.bool or pixels.is_floating_point():
            pixels = pixels.float()
            high = 1
        else:
            high = 255
        if pixels.numel() and not (pixels.min() >= 0 and pixels.max() <= high):  # NaN fails both
            kind = "integer images take pixels 0-255" if high == 255 else "float images take pixels in [0, 1]"
            raise InputError(f"{kind}; these run from {pixels.min().item()} to {pixels.max().item()}")
        return pixels.float() / high


def load_vae(model: str, device=None, trust_remote_code: bool = False) -> VAE:
    """Load a saved VAE (a `run_vae.py` output folder or a Hub id), as `run_vae.py generate --model` does.

    Args:
        model: the folder or Hub id.
        device: "cpu", "cuda", a `torch.device`; default: "cuda" when available, else "cpu".
        trust_remote_code: load the model code shipped with the checkpoint.

    Raises `InputError` (a `ValueError`) naming the folder for anything but a complete VAE with finite weights.
    """
    from transformers import AutoModel

    from trainer_common.loading import check_finite, load_checked

    from . import VAEConfig  # registers the Auto classes

    if not isinstance(model, str | os.PathLike) or not isinstance(os.fspath(model), str):
        raise TypeError(f"model must be a folder or a Hub id (a str or os.PathLike), got {type(model).__name__}")
    model = os.fspath(model)
    if not model.strip():
        raise InputError("model is empty: give a saved VAE folder or Hub id")
    device = resolve_device(device)
    with loading_bars_on_terminal_only():
        loaded = load_checked(AutoModel, model, (VAEConfig.model_type,), trust_remote_code=trust_remote_code)
    check_finite(loaded, model, "samples")
    return VAE(loaded.to(device).eval())
