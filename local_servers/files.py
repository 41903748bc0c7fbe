"""Small file helpers every part of the servers shares."""

from __future__ import annotations

import itertools
import json
import os
import struct
import zlib
from pathlib import Path

_counter = itertools.count()


def write_atomically(path: Path, data: bytes | str, *, mode: int = 0o644, tmp_dir: Path | None = None) -> None:
    """Write to a temporary name on the same disk, then rename: readers (and a kill) see all or nothing.

    mode 0o600 keeps a private key private from its first byte; tmp_dir keeps half-written files out of a
    folder that others list (a news spool)."""
    path = Path(path)
    folder = Path(tmp_dir) if tmp_dir is not None else path.parent
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{path.name}.{os.getpid()}.{next(_counter)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict:
    """A JSON file's content, or {} if it is missing or half-read: state files come and go at any moment."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def png(width: int, height: int, pixel, level: int = 9) -> bytes:
    """A PNG by hand: signature, IHDR, one zlib-compressed IDAT, IEND; pixel(x, y) gives (r, g, b), rows unfiltered."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, level))
            + chunk(b"IEND", b""))
