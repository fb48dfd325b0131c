"""Text classification (single sentences and sentence pairs) with the encoder's own stock sequence classifier,
fine-tuned with the Hugging Face `Trainer`.

`cls_trainer.load_classifier(folder).predict(texts)` classifies raw text from Python (see `api.py`).
"""

_API = ("Classifier", "load_classifier")  # loaded on first use: `import cls_trainer` need not import torch


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_API)
