"""The device a loaded model runs on, for `ner_trainer.load_tagger` and `vae_trainer.load_vae`."""

from .errors import InputError


def resolve_device(device=None):
    """`device` ("cpu", "cuda", "cuda:1", a `torch.device`) as a `torch.device`; `None` picks "cuda" when a CUDA
    device is available, else "cpu". Asking for CUDA where there is none is an `InputError`."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise InputError(f"device {device!r} is not a torch device ({err})") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {str(device)!r} was asked for, but no CUDA device is available")
    return device
