"""Named entity recognition with a BERT tagger, fine-tuned with the Hugging Face `Trainer`."""

from .configuration_bert_tagger import BertTaggerConfig
from .modeling_bert_tagger import BertTagger, BertTaggerPreTrainedModel, register_auto_classes

register_auto_classes()

__all__ = ["BertTaggerConfig", "BertTagger", "BertTaggerPreTrainedModel"]
