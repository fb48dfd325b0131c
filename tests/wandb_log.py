"""Read an offline W&B run back from its `run-<id>.wandb` transaction log, with wandb's own record definitions.

wandb 0.31 has no Python reader of offline runs (`wandb.Api` needs the server; `wandb sync --view` is gone), so this
reads the log's framing (LevelDB log format: 32 KiB blocks of records with a 7-byte header) and parses each record
with `wandb.proto.wandb_internal_pb2.Record`.
"""

import json
import struct
from pathlib import Path

BLOCK, HEADER = 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path):
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    offset, pending = 7, b""
    while offset + HEADER <= len(data):
        left = BLOCK - offset % BLOCK
        if left < HEADER:  # block trailer
            offset += left
            continue
        _, length, kind = struct.unpack("<IHB", data[offset : offset + HEADER])
        if kind == 0 and length == 0:  # zero padding to the end of the block
            offset += left
            continue
        payload = data[offset + HEADER : offset + HEADER + length]
        offset += HEADER + length
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending + payload)
            pending = b""
            yield record
        else:
            pending = pending + payload if kind == MIDDLE else payload


def _set(target: dict, item) -> None:
    keys = list(item.nested_key) or [item.key]
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = json.loads(item.value_json)


def read_run(wandb_dir: Path) -> dict:
    """The run in `wandb_dir` (one offline run): `run` (name, project, tags, group), `config`, `summary`, `history`
    and `artifacts` (name, type, file paths)."""
    (path,) = Path(wandb_dir).glob("offline-run-*/run-*.wandb")
    run, config, summary, history, artifacts = {}, {}, {}, [], []
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run = {"name": r.display_name, "project": r.project, "tags": list(r.tags), "group": r.run_group}
            for item in r.config.update:
                _set(config, item)
        elif kind == "config":
            for item in record.config.update:
                _set(config, item)
        elif kind == "summary":
            for item in record.summary.update:
                _set(summary, item)
        elif kind == "history":
            row = {}
            for item in record.history.item:
                _set(row, item)
            history.append(row)
        elif kind == "artifact":
            a = record.artifact
            artifacts.append({"name": a.name, "type": a.type, "files": [e.path for e in a.manifest.contents]})
    config = {key: value.get("value", value) if isinstance(value, dict) else value for key, value in config.items()}
    return {"run": run, "config": config, "summary": summary, "history": history, "artifacts": artifacts}
