"""New entity types for a trained tagger: continue training on data with tags the tagger has not seen."""

import torch
from torch import nn

from .crf import LinearChainCRF


def add_labels(model, new_tags) -> list[str]:
    """Give `model` (a `BertTagger`) the tags of `new_tags` it lacks, in place, and return them.

    The label order becomes the old labels, then the new ones in the order given. The classifier's rows (weight and
    bias) of the old labels are kept exactly and the new rows initialised as a new classifier's are (normal with the
    encoder's `initializer_range`, zero bias); a CRF keeps its old start, end and transition scores, the new
    entries start at zero, and its scheme constraints are rebuilt for the whole label set.
    """
    config = model.config
    old = [config.id2label[i] for i in range(config.num_labels)]
    added = [tag for tag in dict.fromkeys(new_tags) if tag not in old]
    if not added:
        return []
    tags, kept = old + added, len(old)
    config.id2label = dict(enumerate(tags))
    config.label2id = {tag: i for i, tag in enumerate(tags)}
    model.num_labels = len(tags)

    previous = model.classifier
    classifier = nn.Linear(previous.in_features, len(tags), device=previous.weight.device, dtype=previous.weight.dtype)
    model._init_weights(classifier)
    with torch.no_grad():
        classifier.weight[:kept] = previous.weight
        classifier.bias[:kept] = previous.bias
    classifier.requires_grad_(previous.weight.requires_grad)
    model.classifier = classifier

    if model.crf is not None:
        previous = model.crf
        crf = LinearChainCRF(len(tags)).to(device=previous.transitions.device, dtype=previous.transitions.dtype)
        model._init_weights(crf)  # zero scores, constraints from the config's new label set
        with torch.no_grad():
            crf.start_transitions[:kept] = previous.start_transitions
            crf.end_transitions[:kept] = previous.end_transitions
            crf.transitions[:kept, :kept] = previous.transitions
        model.crf = crf
    return added


__all__ = ["add_labels"]
