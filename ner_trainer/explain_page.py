"""What `run_ner.py explain` writes: bertviz's head and model views in one HTML page that works offline, and a PNG
heatmap of one attention head.

bertviz's views load require.js, jQuery and d3 from a CDN. The page inlines jQuery and the two d3 modules the views
use instead (`explain_assets/`, licences in `LICENSES.txt` there), with a few lines that answer the views'
`requirejs([...])` call, so it draws with no network.
"""

import html
import re
from importlib import resources
from pathlib import Path

from trainer_common.io import atomic_path, write_text

# Marks the files this command writes: a later run may replace them, and nothing else.
GENERATOR = "hf-trainer-toolkit explain"
ASSETS = ("jquery.slim.min.js", "d3-selection.min.js", "d3-color.min.js")
# Stands in for require.js and for d3-scale's ordinal scale over category10, the only part of d3-scale the views use.
REQUIRE_SHIM = """
(function () {
  var category10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  d3.version = "1 (d3-selection, d3-color)";
  d3.schemeCategory10 = category10;
  d3.scaleOrdinal = function (range) {  // as d3's: each new value takes the next colour
    var seen = new Map();
    return function (value) {
      if (!seen.has(value)) seen.set(value, seen.size);
      return range[seen.get(value) % range.length];
    };
  };
  var modules = {jquery: window.jQuery, d3: window.d3};
  window.require = {config: function () {}};
  window.requirejs = function (names, callback) {
    callback.apply(null, names.map(function (name) { return modules[name]; }));
  };
})();
"""
STYLE = """
body { font-family: "Helvetica Neue", Helvetica, Arial, sans-serif; margin: 1.5em 2em; color: #222; }
table.tags { border-collapse: collapse; margin-bottom: 1.5em; }
table.tags th, table.tags td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
td.entity { font-weight: bold; color: #b22222; }
p.note { color: #555; max-width: 60em; }
div.head-view svg { overflow: visible; }
"""
# The head view right-aligns its left column of tokens in a 110 px box, clipping longer labels ("Blackburn [B-PER]"):
# the page pads it by the longest label's width over that, at about this many px a character of its 15 px font.
HEAD_VIEW_BOX, CHAR_PX = 110, 9


def readable_token(token: str) -> str:
    """A sub-token with a BPE tokenizer's space marks as spaces, as bertviz's views show it ("Ġthe" -> " the")."""
    return token.replace("Ġ", " ").replace("▁", " ").replace("</w>", "")


def token_label(token: str, tag: str | None) -> str:
    """A sub-token as the views show it: the first sub-token of a word carries the word's tag, "Peter [B-PER]"."""
    return f"{token} [{tag}]" if tag is not None else token


def page_html(explanation, model_name: str, layer: int | None = None, head: int | None = None) -> str:
    """The whole page: the text, a table of its words with their sub-tokens and tags, bertviz's head view (opened
    on `layer` and `head` when given, else on layer 0 with every head) and model view. `explanation` is
    `explain.Explanation`."""
    from bertviz import head_view, model_view

    labels = explanation.labels
    head_part = head_view(
        explanation.attentions, labels, layer=layer, heads=None if head is None else [head], html_action="return"
    ).data
    model_part = model_view(explanation.attentions, labels, display_mode="light", html_action="return").data
    rows = "\n".join(
        f"<tr><td>{html.escape(word)}</td><td>{html.escape(' '.join(pieces))}</td>"
        f"<td{' class=entity' if tag != 'O' else ''}>{html.escape(tag)}</td></tr>"
        for word, pieces, tag in zip(explanation.words, explanation.word_pieces, explanation.tags)
    )
    scripts = "\n".join(f"<script>\n{_asset(name)}\n</script>" for name in ASSETS)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="{GENERATOR}">
<title>Attention of {html.escape(model_name)}</title>
<style>{STYLE}</style>
{scripts}
<script>{REQUIRE_SHIM}</script>
</head>
<body>
<h1>Attention of {html.escape(model_name)}</h1>
<p>{html.escape(explanation.text)}</p>
<h2>Predicted tags</h2>
<table class="tags">
<tr><th>word</th><th>sub-tokens</th><th>tag</th></tr>
{rows}
</table>
<h2>Head view</h2>
<p class="note">Lines join each sub-token (left) to the sub-tokens it attends to (right), one colour a head, thicker
for more attention. Pick a layer; click a head's colour to show or hide it, hover a token to see its lines alone.
A word's first sub-token carries the word's predicted tag in brackets.</p>
<div class="head-view" style="padding-left: {_head_view_padding(labels)}px">
{_offline(head_part)}
</div>
<h2>Model view</h2>
<p class="note">Every head of every layer (rows: layers, columns: heads, from 0). Click one to enlarge it.</p>
{_offline(model_part)}
</body>
</html>
"""


def _head_view_padding(labels: list[str]) -> int:
    return max(0, CHAR_PX * max(map(len, labels)) - HEAD_VIEW_BOX + 10)


def _asset(name: str) -> str:
    return resources.files("ner_trainer").joinpath("explain_assets", name).read_text(encoding="utf-8")


def _offline(view: str) -> str:
    """One of bertviz's returned views without its CDN references, its script safe to inline: a token such as
    "</script>" in its data must not end the script early."""
    view = re.sub(r'<script src="https?://[^"]*"></script>', "", view)
    view = re.sub(r"require\.config\(\{.*?\}\);", "", view, count=1, flags=re.S)
    start, end = view.index("<script"), view.rindex("</script>")
    head, script, tail = view[:start], view[start:end], view[end:]
    opening, _, body = script.partition(">")
    script = opening + ">" + body.replace("</", "<\\/").replace("<!--", "<\\!--")
    view = head + script + tail
    if re.search(r"<script src=|[\'\"`]https?://", view):  # a bertviz release that loads more would fail offline
        raise RuntimeError("bertviz's view still loads a script from the network; update ner_trainer/explain_page.py")
    return view


def write_page(path: str | Path, page: str) -> None:
    write_text(Path(path).resolve(), page)  # through a symlink to its target, not replacing the link


def written_here(path: str | Path) -> bool:
    """Whether an existing file is one this command wrote (a page or a heatmap), which a new run may replace."""
    try:
        with open(path, "rb") as file:
            return GENERATOR.encode() in file.read(4096)
    except OSError:  # unreadable: not known to be ours
        return False


def write_heatmap(path: str | Path, weights, labels: list[str], title: str, entity_rows: list[bool]) -> None:
    """A PNG of one head's attention: rows attend to columns, both axes labelled with the sub-tokens and their tags
    (entity tags in red), a colour bar of the weights."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    side = min(max(5.0, 0.3 * len(labels) + 2.5), 40.0)  # inches: room for every tick label, within reason
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    image = ax.imshow(weights, cmap="viridis", vmin=0.0)  # to the largest weight: a flat head still shows its shape
    ticks = range(len(labels))
    ax.set_xticks(ticks, labels, rotation=90, fontsize=8)
    ax.set_yticks(ticks, labels, fontsize=8)
    for tick_labels in (ax.get_xticklabels(), ax.get_yticklabels()):
        for text, entity in zip(tick_labels, entity_rows):
            text.set_color("#b22222" if entity else "#222222")
    ax.set_xlabel("attended to")
    ax.set_ylabel("attending")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    fig.tight_layout()
    with atomic_path(Path(path).resolve()) as tmp:
        fig.savefig(tmp, dpi=100, format="png", metadata={"Software": GENERATOR})
    plt.close(fig)
