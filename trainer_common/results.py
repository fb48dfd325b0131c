"""The run's result files, as the transformers examples name them: `train_results.json`, `eval_results.json`,
`test_results.json` and `all_results.json`, each with what made it (the toolkit's version and git commit, the
torch and transformers versions, the seed)."""

import functools
import subprocess
from pathlib import Path

from .io import write_json

SPLITS = ("train", "eval", "test")  # a metric's prefix: train_loss, eval_f1, test_f1 ("epoch" goes in each)
RESULT_FILES = tuple(f"{split}_results.json" for split in SPLITS)
PROVENANCE = "run"  # the key holding what made the results, in every file


@functools.cache
def _source_commit() -> str | None:
    """The git commit of the toolkit's own checkout (with `-dirty` when it has changes), None when it was installed
    from a package or git is missing."""
    root = Path(__file__).resolve().parent.parent
    try:
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=5)  # fmt: skip
        if top.returncode or Path(top.stdout.strip()).resolve() != root:  # another repository around site-packages
            return None
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return (commit + ("-dirty" if dirty else "")) or None


def run_info(seed: int) -> dict:
    """What made a run's results: the versions of the model card's "framework versions", the toolkit's commit where
    known, and the seed."""
    from .model_card import framework_versions

    info = {f"{name.lower().replace('-', '_')}_version": value for name, value in framework_versions()
            if value != "not installed"}  # fmt: skip
    commit = _source_commit()
    return {**info, **({"git_commit": commit} if commit else {}), "seed": seed}


def split_results(results: dict) -> dict[str, dict]:
    """`results` by file name: each split's metrics (and the epoch) in its own file, all of them in `all_results`."""
    files = {}
    for split, name in zip(SPLITS, RESULT_FILES):
        metrics = {key: value for key, value in results.items() if key.startswith(f"{split}_")}
        if metrics:
            files[name] = {**metrics, **({"epoch": results["epoch"]} if "epoch" in results else {})}
    files["all_results.json"] = dict(results)
    return files


def write_results(output_dir: str, results: dict, seed: int) -> None:
    """Write the result files, `all_results.json` last: it marks a finished run."""
    info = run_info(seed)
    files = split_results({key: value for key, value in results.items() if key != PROVENANCE})
    for name, metrics in sorted(files.items(), key=lambda item: item[0] == "all_results.json"):
        write_json(Path(output_dir) / name, {**metrics, PROVENANCE: info})
