"""`run_vae.py generate`: decode digits from a saved VAE.

It writes `samples.png` and `samples/sample_{i}.png` in `--output` (removing the `sample_{j}.png` of an earlier,
larger set) and nothing else but its record, `.generated.json`, of what it wrote. It writes over only what it (or a
training run, by its manifest) wrote there: any other file of those names is refused, by name.
"""

import argparse
import json
from pathlib import Path

from trainer_common.cli import parse_command_args
from trainer_common.errors import InputError
from trainer_common.validation import check_range

from .api import SEED_RANGE, load_vae
from .train import MAX_SAMPLES

GRID = "samples.png"
FOLDER = "samples"
RECORD = ".generated.json"


def _sample_files(folder: Path) -> list[Path]:
    """The `sample_{i}.png` entries of `folder`: the names `save_images` writes or removes."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("sample_*.png") if p.stem[len("sample_") :].isdigit())


def _owned(out: Path) -> set[str]:
    """Top-level entries of `out` that this toolkit wrote: recorded by an earlier generate, or by a training run's
    manifest. For `samples`, that means its `sample_{i}.png` files."""
    from trainer_common.run_files import read_manifest

    owned = set(read_manifest(out) or ())
    record = out / RECORD
    if record.exists() or record.is_symlink():
        try:
            entries = json.loads(record.read_text(encoding="utf-8"))["entries"]
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(f"--output {out} holds a {RECORD} that generate did not write: move it") from None
        owned.update(entry for entry in entries if entry in (GRID, FOLDER))
    return owned & {GRID, FOLDER}


def check_output(out: Path) -> None:
    """Refuse an `--output` that is not a folder, or where generate would write over (or remove) files that no run
    of this toolkit wrote; name them."""
    for parent in (out, *out.parents):
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                where = "is a file" if parent == out else f"lies in {parent}, a file"
                raise InputError(f"--output {out} {where}, not a folder")
            break
    if not out.is_dir():
        return
    owned = _owned(out)
    grid, folder = out / GRID, out / FOLDER
    if (folder.exists() or folder.is_symlink()) and not folder.is_dir():
        raise InputError(f"--output {out}: {folder} is a file; generate writes its digits into a folder of that name")
    foreign = []
    if (grid.exists() or grid.is_symlink()) and (GRID not in owned or not grid.is_file()):
        foreign.append(GRID)
    if FOLDER not in owned:
        foreign += [f"{FOLDER}/{p.name}" for p in _sample_files(folder)]
    if foreign:
        shown = ", ".join(foreign[:3]) + (f", ... ({len(foreign)} in all)" if len(foreign) > 3 else "")
        raise InputError(
            f"--output {out} holds files that generate would write over but this toolkit did not write ({shown}): "
            "move them, or choose another --output"
        )


def record_output(out: Path) -> None:
    """Record, before writing them, the entries generate writes, so that a later generate may replace them."""
    from trainer_common.io import write_json

    write_json(out / RECORD, {"format": 1, "entries": [FOLDER, GRID]})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="run_vae.py generate", description="Generate digits from a saved VAE.", allow_abbrev=False
    )
    parser.add_argument("--model", required=True, help="Saved VAE folder or Hub id.")
    parser.add_argument("--num_samples", type=int, default=10, help="Number of digits (default 10).")
    parser.add_argument("--output", required=True, help="Folder for samples.png and samples/sample_{i}.png.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the z draws (default 0).")
    parser.add_argument("--trust_remote_code", action="store_true", help="Load the model code from the checkpoint.")
    args = parse_command_args(parser, argv)
    if not args.model.strip():
        raise InputError("--model is empty: give a saved VAE folder or Hub id")
    check_range("num_samples", args.num_samples, 1, MAX_SAMPLES)
    check_range("seed", args.seed, *SEED_RANGE)
    if not args.output:
        raise InputError("--output is empty: give a folder")
    out = Path(args.output)
    check_output(out)

    from .plots import write_samples

    vae = load_vae(args.model, device="cpu", trust_remote_code=args.trust_remote_code)
    check_output(out)  # again: the folder may have changed while the model loaded
    try:
        out.mkdir(parents=True, exist_ok=True)
        record_output(out)
        path = write_samples(vae.model, args.num_samples, out, args.seed)  # the digits of vae.generate(n, seed)
    except OSError as err:  # no permission, a full disk
        raise InputError(f"--output {out}: could not write the samples ({err.strerror or err})") from err
    print(f"wrote {args.num_samples} samples to {path} and {out / FOLDER}/")
