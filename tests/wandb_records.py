"""Read W&B's offline `.wandb` run files back (wandb 0.31 ships no public reader for them).

The file is a 7-byte header (":W&B", magic 0xBEE1, version) followed by LevelDB-log framed records in 32 KiB
blocks: crc32 (4 bytes), length (2, little endian), type (1: full, 2: first, 3: middle, 4: last), payload.
Each payload is a serialized `wandb_internal_pb2.Record`.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

BLOCK = 32 * 1024
HEADER = 7


def records(path: Path) -> list[Any]:
    from wandb.proto import wandb_internal_pb2 as pb

    raw = path.read_bytes()
    assert raw[:4] == b":W&B", f"{path} is not a W&B run file"
    out, pos, pending = [], HEADER, b""
    while pos + 7 <= len(raw):
        room = BLOCK - pos % BLOCK
        if room < 7:
            pos += room
            continue
        length, kind = struct.unpack("<HB", raw[pos + 4 : pos + 7])
        payload = raw[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            break
        pending = payload if kind in (1, 2) else pending + payload
        if kind in (1, 4):
            rec = pb.Record()
            rec.ParseFromString(pending)
            out.append(rec)
    return out


def history(path: Path) -> list[dict[str, Any]]:
    rows = []
    for rec in records(path):
        if rec.WhichOneof("record_type") == "history":
            rows.append({(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in rec.history.item})
    return rows


def run_config(path: Path) -> dict[str, Any]:
    cfg: dict[str, Any] = {}
    for rec in records(path):
        if rec.WhichOneof("record_type") == "config":
            for item in rec.config.update:
                cfg[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return cfg


def tags(path: Path) -> list[str]:
    for rec in records(path):
        if rec.WhichOneof("record_type") == "run":
            return list(rec.run.tags)
    return []
