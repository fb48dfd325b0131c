"""Look inside a tagger: `python run_ner.py explain --model DIR "Some text" --output view.html`.

Writes bertviz's head view and model view of the model's attention over the text's sub-tokens, each word's first
sub-token labelled with its predicted tag, as one HTML page that works offline; with `--png`, a heatmap of one
layer's head for reading without a browser. The model is loaded as `predict` loads it, then switched to eager
attention (sdpa and flash attention return no weights) for this run only: the saved model is not changed.
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from trainer_common.cli import parse_command_args
from trainer_common.errors import InputError
from trainer_common.predict_io import check_output_file

from .data import Sentence, encode_sentences, max_window_length
from .explain_page import page_html, readable_token, token_label, write_heatmap, write_page, written_here
from .predict import split_words

MAX_TOKENS = 128  # each view holds layers x heads x tokens² weights: a page for 512 tokens of BERT-base is ~0.5 GB


@dataclass
class Explanation:
    """One text through the model: its words and predicted tags, the sub-tokens the encoder saw (`tokens`, and
    `labels` as the views show them) with the word each belongs to, and the attention weights of every layer
    (`[1, heads, tokens, tokens]` each)."""

    text: str
    words: list[str]
    tags: list[str]
    tokens: list[str]
    token_words: list[int | None]
    attentions: list

    @property
    def labels(self) -> list[str]:
        labels, previous = [], None
        for token, w in zip(self.tokens, self.token_words):
            first = w is not None and w != previous
            labels.append(token_label(token, self.tags[w] if first else None))
            previous = w
        return labels

    @property
    def word_pieces(self) -> list[list[str]]:
        pieces = [[] for _ in self.words]
        for token, w in zip(self.tokens, self.token_words):
            if w is not None:
                pieces[w].append(token)
        return pieces

    @property
    def entity_tokens(self) -> list[bool]:
        """Per sub-token: whether its word is tagged with something other than O."""
        return [w is not None and self.tags[w] != "O" for w in self.token_words]


def explain_text(tagger, text: str, max_tokens: int = MAX_TOKENS) -> Explanation:
    """The tags `tagger` (an `api.Tagger`) predicts for `text` and the attention of its model over the text, which
    must fit one window of at most `max_tokens` sub-tokens. The model must return attention weights: see
    `set_attn_implementation("eager")`."""
    import torch

    model, tokenizer = tagger.model, tagger.tokenizer
    word_split = getattr(model.config, "word_split", "words")
    words = [word for word, _, _ in split_words(text, word_split)]
    if not words:
        raise InputError("the text has no words to tag: give some text")
    window = max_window_length(model, tokenizer)
    features, _ = encode_sentences([Sentence(words, None, "<text>", 1)], tokenizer, max_seq_length=window)
    length = sum(features["length"])
    limit = min(max_tokens, window)
    if len(features["input_ids"]) > 1 or length > limit:
        raise InputError(
            f"the text is {length} sub-tokens long, more than {limit} "
            f"({'the model window' if limit == window else '--max_tokens'}): give a shorter text"
        )
    tags = tagger.predict(text)["tags"]
    device = next(model.parameters()).device
    keys = [key for key in ("input_ids", "attention_mask", "token_type_ids") if key in features]
    with torch.inference_mode():
        outputs = model(**{key: torch.tensor(features[key], device=device) for key in keys}, output_attentions=True)
    if not outputs.attentions:
        raise InputError(
            f"the model returned no attention weights (attention implementation "
            f"{model.config._attn_implementation!r}); explain needs one that can use eager attention"
        )
    ids = features["input_ids"][0]
    special = set(tokenizer.all_special_ids)
    token_words, current = [], None
    for token_id, first_of in zip(ids, features["word_index"][0]):
        current = None if token_id in special else first_of if first_of >= 0 else current
        token_words.append(current)
    attentions = [layer.detach().double().cpu().round(decimals=4) for layer in outputs.attentions]
    tokens = [readable_token(token) for token in tokenizer.convert_ids_to_tokens(ids)]
    return Explanation(text, words, tags, tokens, token_words, attentions)


# ---------------------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="run_ner.py explain",
        description="Show a trained NER model's attention over one text: bertviz's head and model views in an "
        "HTML page that works offline, and/or a PNG heatmap of one layer's head.",
    )
    parser.add_argument("text", help="the text to tag and show (one sentence or a few)")
    parser.add_argument("--model", required=True, metavar="DIR", help="trained model folder or Hub id")
    parser.add_argument("--output", metavar="FILE", help="HTML page to write (head view and model view)")
    parser.add_argument("--png", metavar="FILE", help="PNG heatmap to write of --layer's --head")
    parser.add_argument(
        "--layer", type=int, metavar="N", help="layer, from 0 (default: the last for --png); the page opens on it"
    )
    parser.add_argument("--head", type=int, metavar="N", help="head, from 0 (default: 0 for --png); the page shows it")
    parser.add_argument(
        "--max_tokens", type=int, default=MAX_TOKENS, metavar="N", help=f"longest text in sub-tokens ({MAX_TOKENS})"
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available, else cpu")
    parser.add_argument(
        "--trust_remote_code", action="store_true", help="allow model code shipped with the checkpoint"
    )
    return parser


def check_range(option: str, value: int | None, count: int, what: str) -> None:
    if value is not None and not 0 <= value < count:
        raise InputError(f"{option} {value} is out of range: the model has {count} {what} (0 to {count - 1})")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point. Bad input raises `InputError`, which `run_ner.py` prints as one `error:` line."""
    args = parse_command_args(build_parser(), argv)
    if not args.model.strip():
        raise InputError("--model is empty: give a trained model folder or Hub id")
    if not (args.output or args.png):
        raise InputError("nothing to write: give --output view.html, --png heatmap.png, or both")
    if not args.text.strip():
        raise InputError("the text is empty: give some text to tag")
    if args.max_tokens < 1:
        raise InputError(f"--max_tokens must be at least 1, got {args.max_tokens}")
    for option, path in (("--output", args.output), ("--png", args.png)):
        if path is None:
            continue
        check_output_file(path, {"--model": args.model}, written_here, option, "an explain page or heatmap")
        if Path(path).exists() and not Path(path).is_file():  # /dev/null: a rename would replace the device
            raise InputError(f"{option} {path} is not a regular file: give a file name")
    if args.output and args.png and Path(args.output).resolve() == Path(args.png).resolve():
        raise InputError(f"--output and --png are the same file {args.output}: give two names")
    if args.output:
        import importlib.util

        if importlib.util.find_spec("bertviz") is None:  # an optional dependency: the `explain` extra
            raise InputError("--output needs bertviz: pip install 'hf-trainer-toolkit[explain]' (--png works without)")

    from .api import load_tagger

    tagger = load_tagger(args.model, device=args.device, trust_remote_code=args.trust_remote_code)
    tagger.model.set_attn_implementation("eager")  # only eager attention returns weights; the saved model is unchanged
    explanation = explain_text(tagger, args.text, args.max_tokens)
    layers, heads = len(explanation.attentions), explanation.attentions[0].shape[1]
    check_range("--layer", args.layer, layers, "layers")
    check_range("--head", args.head, heads, "heads per layer")
    if args.output:
        write_page(args.output, page_html(explanation, args.model, args.layer, args.head))
        print(f"wrote {args.output}: head and model views of {len(explanation.tokens)} sub-tokens", file=sys.stderr)
    if args.png:
        layer = layers - 1 if args.layer is None else args.layer
        head = 0 if args.head is None else args.head
        weights = explanation.attentions[layer][0, head].numpy()
        title = f"{args.model}: layer {layer}, head {head}"
        write_heatmap(args.png, weights, explanation.labels, title, explanation.entity_tokens)
        print(f"wrote {args.png}: layer {layer}, head {head} of {len(explanation.tokens)} sub-tokens", file=sys.stderr)
