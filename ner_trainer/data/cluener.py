"""CLUENER2020 span JSON, `{"text", "label": {type: {entity: [[start, end_inclusive], ...]}}}`: a word a character."""

import logging

from trainer_common.errors import InputError

from .sentence import Sentence, check_tag

logger = logging.getLogger(__name__)


def cluener_record(record: dict, where: str, path: str, line: int) -> Sentence:
    """CLUENER: one word per character; `label` maps type -> entity text -> [[start, end_inclusive], ...]."""
    text = record["text"]
    label = record.get("label")
    if label is None:
        return Sentence(list(text), None, path, line)
    try:
        spans = [
            (t, entity, span)
            for t, entities in label.items()
            for entity, positions in entities.items()
            for span in positions
        ]
    except (AttributeError, TypeError) as err:
        raise InputError(f"{where}: 'label' must look like {{type: {{entity: [[start, end], ...]}}}}") from err
    tags = ["O"] * len(text)
    for entity_type, entity, span in spans:
        check_tag(f"B-{entity_type}", where)
        ok = isinstance(span, list) and len(span) == 2 and all(isinstance(i, int) for i in span)
        if not ok or not 0 <= span[0] <= span[1] < len(text):
            raise InputError(f"{where}: bad span {span!r} for {entity_type} {entity!r} in a text of {len(text)} chars")
        start, end = span
        if text[start : end + 1] != entity:
            raise InputError(
                f"{where}: span [{start}, {end}] of {entity_type} is {text[start : end + 1]!r}, "
                f"not the entity {entity!r}"
            )
    # IOB2 cannot nest entities (CLUENER train has a company inside a book title): the longer, outer span wins,
    # and each span left out is reported.
    spans.sort(key=lambda item: (item[2][0], item[2][0] - item[2][1]))
    for entity_type, entity, (start, end) in spans:
        if any(tag != "O" for tag in tags[start : end + 1]):
            logger.warning(f"{where}: {entity_type} {entity!r} at [{start}, {end}] overlaps a longer entity; left out")
            continue
        tags[start : end + 1] = [f"B-{entity_type}"] + [f"I-{entity_type}"] * (end - start)
    return Sentence(list(text), tags, path, line)
