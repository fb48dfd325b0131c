"""The VAE's figures: loss curves, generated digits, and test reconstructions."""

import os
from pathlib import Path

from trainer_common.plots import Panel, plot_curves, save_image_grid, save_images

DIGIT_SCALE = 3  # 28 px digits drawn at 84 px in the grids

VAE_PANELS = [
    Panel("Reconstruction loss", ["recon_loss", "eval_recon_loss"], "BCE per image (nats)"),
    Panel("KL divergence", ["kl_loss", "eval_kl_loss"], "KL per image (nats)"),
]


def sample_digits(model, num_samples: int, seed: int = 0):
    """Decode `num_samples` draws of z ~ N(0, I), seeded: float images `(num_samples, 28, 28)` in [0, 1], on the
    CPU. The one sampling path of the figures, `generate` and `api.VAE.generate`."""
    import torch

    generator = torch.Generator(device=model.device).manual_seed(seed)
    return model.sample(num_samples, generator=generator).float().cpu()


def write_samples(model, num_samples: int, output_dir: str | os.PathLike, seed: int = 0) -> Path:
    """Decode `num_samples` z ~ N(0, I) into `samples.png` (digits at 84 px; sample number = row label + column) and
    `samples/sample_{i}.png` (28 px, as MNIST)."""
    images = sample_digits(model, num_samples, seed)
    save_images(images, Path(output_dir) / "samples")
    ncols = min(num_samples, 10)
    rows = [f"{first}+" for first in range(0, num_samples, ncols)] if num_samples > ncols else None
    save_image_grid(images, Path(output_dir) / "samples.png", ncols=ncols, scale=DIGIT_SCALE,
                    column_labels=[f"#{i}" for i in range(ncols)], row_labels=rows)  # fmt: skip
    return Path(output_dir) / "samples.png"


def write_reconstructions(model, pixels, path: str | os.PathLike, n: int = 10) -> None:
    """The first `n` test images on the top row, their reconstructions below, at 84 px, each row labelled."""
    import torch

    side = model.config.image_size
    with torch.no_grad():
        originals = pixels[:n].to(model.device)
        reconstructions = model(originals, return_loss=False).reconstruction
    grid = torch.cat([originals, reconstructions]).reshape(-1, side, side).cpu()
    save_image_grid(grid, path, ncols=len(originals), scale=DIGIT_SCALE, row_labels=["test", "recon"])


def write_figures(trainer, test_set, num_samples: int, seed: int, trained: bool = True) -> dict[str, str]:
    """Write loss_curves.png (of a run that `trained`), samples.png (+ samples/) and reconstructions.png; return
    their paths by name."""
    out = Path(trainer.args.output_dir)
    model = trainer.model.eval()
    figures = {}
    if trained and trainer.state.log_history:
        plot_curves(trainer.state.log_history, VAE_PANELS, out / "loss_curves.png")
        figures["loss_curves"] = str(out / "loss_curves.png")
    figures["samples"] = str(write_samples(model, num_samples, out, seed))
    if len(test_set):
        write_reconstructions(model, test_set.pixels, out / "reconstructions.png")
        figures["reconstructions"] = str(out / "reconstructions.png")
    return figures
