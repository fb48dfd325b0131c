"""Named entity recognition with a BERT tagger, fine-tuned with the Hugging Face `Trainer`.

`ner_trainer.load_tagger(folder).predict(texts)` tags raw text from Python (see `api.py`).
"""

from .configuration_bert_tagger import BertTaggerConfig
from .modeling_bert_tagger import BertTagger, BertTaggerPreTrainedModel, register_auto_classes

register_auto_classes()

_API = ("Tagger", "load_tagger")  # loaded on first use: `import ner_trainer` need not import the predict code


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BertTaggerConfig", "BertTagger", "BertTaggerPreTrainedModel", *_API]
