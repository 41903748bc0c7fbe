"""The inspector reads the transcripts incrementally and always agrees with transcripts.sessions().

The sessions page polls every 2 s in the server process; parsing every transcript file at each
poll (up to 24 MiB) would take the servers' interpreter for a large part of a second. The reader
must give the same sessions as wire's own reader after appends, half-written lines and rotation.
"""

from __future__ import annotations

import json

import pytest

transcripts = pytest.importorskip("local_servers.wire.transcripts",
                                  reason="transcripts are not in this build (branch wire)")

from local_servers.inspector import wire_parts  # noqa: E402


def write(path, records, partial: str = "") -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
        f.write(partial)


def session_records(sid: str, events: int, ended: bool = True) -> list:
    records = [["o", sid, "pop3", "127.0.0.1:1", 1000.0, False]]
    records += [["e", sid, i / 1000, "C" if i % 2 else "S", f"line {i}", 8, False, False] for i in range(events)]
    if ended:
        records.append(["x", sid, 1001.0, 0])
    return records


def same(reader, state_dir, last=None, user=None) -> None:
    expected = [s.to_dict() for s in transcripts.sessions(state_dir, last=last, user=user)]
    assert [s.to_dict() for s in reader.sessions(last, user)] == expected


def test_appends_partial_lines_and_rotation(tmp_path):
    folder = transcripts.folder(tmp_path)
    folder.mkdir(parents=True)
    first, second, third = (folder / f"transcripts-{n}.jsonl" for n in (1, 2, 3))
    write(first, session_records("a.1", 3) + session_records("a.2", 2, ended=False))
    reader = wire_parts.TranscriptReader(tmp_path, transcripts)
    same(reader, tmp_path)
    assert [s.ended is None for s in reader.sessions(None, None)] == [False, True]

    # the live session goes on, and a line is being written right now
    write(first, [["e", "a.2", 0.5, "C", "QUIT", 6, False, False], ["u", "a.2", "bob"]], partial='["e", "a.2"')
    same(reader, tmp_path)
    same(reader, tmp_path, user="bob")
    write(first, [], partial=', 0.6, "S", "+OK bye", 9, false, false]\n')
    write(first, [["x", "a.2", 1002.0, 0]])
    same(reader, tmp_path)
    assert reader.sessions(None, None)[-1].events[-1].text == "+OK bye"

    write(second, session_records("b.1", 4))
    same(reader, tmp_path, last=2)
    first.unlink()  # the store dropped its oldest file
    write(third, session_records("c.1", 1))
    same(reader, tmp_path)
    assert [s.id for s in reader.sessions(None, None)] == ["b.1", "c.1"]
