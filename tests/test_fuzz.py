"""Fuzz the readers (CoNLL, JSON, CLUENER, IDX) and the config loader with malformed inputs: truncations, random
bytes, wrong types, huge values. Every outcome is a clean result or `InputError`; no other exception, no hang.

CI runs a few hundred cases per format; `FUZZ_CASES=20000 pytest tests/test_fuzz.py` runs a longer search.
"""

import gzip
import json
import os
import random
import signal
from contextlib import contextmanager

import numpy as np
import pytest
from helpers import idx_bytes

from ner_trainer.data import read_file
from trainer_common.args import load_config_file
from trainer_common.errors import InputError
from vae_trainer.data import read_idx

CASES = int(os.environ.get("FUZZ_CASES", "300"))
SECONDS_PER_CASE = 20  # a million-character value takes seconds on a loaded CI core; a hang never ends

CONLL = "-DOCSTART- -X- O O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\nPeter NNP B-NP B-PER\n"
JSONL = '{"tokens": ["EU", "rejects", "German"], "ner_tags": ["B-ORG", "O", "B-MISC"]}\n{"tokens": ["Peter"]}\n'
CLUENER = '{"text": "浙商银行企业信贷部", "label": {"company": {"浙商银行": [[0, 3]]}}}\n'
CONFIG = '{"learning_rate": "3e-4", "num_train_epochs": 2, "output_dir": "runs/x", "do_train": true}'
IDX = idx_bytes(np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256)
SEEDS = {
    "conll.txt": CONLL.encode(),
    "records.jsonl": JSONL.encode(),
    "list.json": ("[" + JSONL.strip().replace("\n", ",") + "]").encode(),
    "cluener.json": CLUENER.encode(),
    "config.json": CONFIG.encode(),
    "config.yaml": b"learning_rate: 3e-4\nnum_train_epochs: 2\noutput_dir: runs/x\n",
    "images.idx": IDX,
    "images.idx.gz": gzip.compress(IDX),
}
WEIRD = [
    b"", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\r", b"\r\n", b"\n\n", b" ", b"\t", b"\xe2\x80\xa8", b"-", b"B-",
    b"I-X", b"O", b"null", b"[]", b"{}", b'""', b"1e999", b"-1", b"9" * 40, b"[" * 2000, b"\\u0000", b'"', b",",
]  # fmt: skip


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random malformation of `data`."""
    kind = rng.randrange(7)
    cut = rng.randrange(len(data) + 1)
    if kind == 0:  # truncation
        return data[:cut]
    if kind == 1:  # random bytes overwritten
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            if out:
                out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if kind == 2:  # a weird token inserted
        return data[:cut] + rng.choice(WEIRD) + data[cut:]
    if kind == 3:  # a span deleted or duplicated
        end = rng.randint(cut, len(data))
        return data[:cut] + data[end:] if rng.random() < 0.5 else data[:end] + data[cut:end] + data[end:]
    if kind == 4:  # a JSON value replaced with another type
        for old in (b'"B-ORG"', b'["EU", "rejects", "German"]', b'"3e-4"', b"2", b"true", b"[[0, 3]]", b'"company"'):
            if old in data:
                new = rng.choice([b"null", b"1", b"-5", b"[]", b"{}", b'"x"', b"[1, 2]", b'{"a": []}', b"1e308"])
                return data.replace(old, new, 1)
        return data
    if kind == 5:  # a huge value
        return data[:cut] + b"x" * rng.choice([10_000, 1_000_000]) + data[cut:]
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))  # noise


@contextmanager
def time_limit(seconds: int, what: str):
    def hang(signum, frame):
        raise TimeoutError(f"{what} took over {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def read(name: str, path):
    if name.startswith("config"):
        return load_config_file(str(path))
    if name.startswith("images"):
        return read_idx(path)
    return read_file(path)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_malformed_inputs_give_a_result_or_an_input_error(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(SEEDS[name])
    read(name, path)  # the seed itself is valid
    rng = random.Random(name)
    outcomes = {"read": 0, "InputError": 0}
    for case in range(CASES):
        data = mutate(SEEDS[name], rng)
        if rng.random() < 0.3:
            data = mutate(data, rng)
        path.write_bytes(data)
        try:
            with time_limit(SECONDS_PER_CASE, f"{name} case {case}"):
                read(name, path)
            outcomes["read"] += 1
        except InputError:
            outcomes["InputError"] += 1
        except Exception as err:  # noqa: BLE001 (the point: any other exception is a bug, shown with its input)
            raise AssertionError(f"{name} case {case}: {type(err).__name__}: {err}\ninput: {data[:300]!r}") from err
    assert outcomes["InputError"] > 0  # the mutations do reach the error paths


def test_a_gzip_bomb_is_refused_not_unpacked(tmp_path):
    """A small .gz that claims gigabytes of pixels must not be decompressed whole into memory."""
    header = (0x00000803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (100_000, 280, 280))
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip.compress(header + bytes(200_000_000)))
    with time_limit(SECONDS_PER_CASE * 4, "gzip bomb"), pytest.raises(InputError):
        read_idx(bomb)


def test_json_records_of_every_wrong_type(tmp_path):
    path = tmp_path / "records.jsonl"
    values = [None, 1, -1.5, True, "x", [], {}, [None], [1], [[]], {"a": 1}]
    for key in ("tokens", "ner_tags", "text", "label"):
        for value in values:
            record = {"tokens": ["a"], "ner_tags": ["O"]} if key in ("tokens", "ner_tags") else {"text": "ab"}
            record[key] = value
            path.write_text(json.dumps(record) + "\n")
            try:
                read_file(path)
            except InputError:
                pass
