"""Values between the grader and the student's process, as JSON: data only, never pickle.

Unpickling would run the student's code inside the grader. JSON cannot:
what crosses is plain data (None, bools, numbers, strings, bytes, lists,
tuples, dicts, sets, paths), an email message as its bytes (parsed again on
the other side), an exception as its class names, message and data
attributes, or a *handle*: a number that stands for an object that stays
in the student's process (a started server, a function), whose methods are
called over the channel.

One message is one line of JSON; a reader never accepts a line longer than
MAX_LINE, so a student cannot make the grader hold gigabytes.
"""

from __future__ import annotations

import base64
import json
import pathlib
import sys

MAX_LINE = 32 * 1024 * 1024
MAX_DEPTH = 64
MAX_TEXT = 2000  # an exception's message, as shown in feedback


class WireError(ValueError):
    """A message that is not what the protocol allows."""


def encode(value, handle, exception=None, depth: int = 0):
    """value as JSON-ready data; handle(obj) -> dict for what is not data."""
    if depth > MAX_DEPTH:
        raise WireError("nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$b": base64.b64encode(bytes(value)).decode("ascii")}
    again = (lambda v: encode(v, handle, exception, depth + 1))
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return {"$t": [again(v) for v in value]}
    if isinstance(value, list):
        return [again(v) for v in value]
    if isinstance(value, dict):
        return {"$d": [[again(k), again(v)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"$s": [again(v) for v in value]}
    if isinstance(value, pathlib.PurePath):
        return {"$p": str(value)}
    messages = sys.modules.get("email.message")  # not imported: no message can exist (the import costs a fresh
    if messages is not None and isinstance(value, messages.Message):  # student process ~40 % of its start-up)
        try:
            data = value.as_bytes()
        except Exception:
            return handle(value)
        return {"$m": base64.b64encode(data).decode("ascii"),
                "e": isinstance(value, messages.EmailMessage)}
    if isinstance(value, BaseException) and exception is not None:
        return exception(value)
    return handle(value)


def decode(data, handle, exception=None, depth: int = 0):
    """The inverse of encode(); handle(dict) and exception(dict) rebuild what is not data."""
    if depth > MAX_DEPTH:
        raise WireError("nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    again = (lambda v: decode(v, handle, exception, depth + 1))
    if isinstance(data, list):
        return [again(v) for v in data]
    if not isinstance(data, dict) or len(data) == 0:
        raise WireError(f"unexpected {type(data).__name__}")
    if "$b" in data:
        return base64.b64decode(data["$b"])
    if "$t" in data:
        return tuple(again(v) for v in data["$t"])
    if "$d" in data:
        return {_hashable(again(k)): again(v) for k, v in data["$d"]}
    if "$s" in data:
        return {_hashable(again(v)) for v in data["$s"]}
    if "$p" in data:
        return pathlib.Path(data["$p"])
    if "$m" in data:
        import email
        import email.policy

        policy = email.policy.default if data.get("e") else email.policy.compat32
        return email.message_from_bytes(base64.b64decode(data["$m"]), policy=policy)
    if ("$x" in data or "$c" in data) and exception is not None:
        return exception(data)
    if "$h" in data:
        return handle(data)
    raise WireError(f"unknown tag in {sorted(data)[:3]}")


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def dumps(message: dict) -> bytes:
    return json.dumps(message, ensure_ascii=True, allow_nan=True, separators=(",", ":")).encode("ascii") + b"\n"


def loads(line: bytes) -> dict:
    if len(line) > MAX_LINE:
        raise WireError("message too long")
    message = json.loads(line)
    if not isinstance(message, dict):
        raise WireError("a message is a JSON object")
    return message


def read_message(stream) -> dict | None:
    """One message from a binary stream; None at end of file."""
    line = stream.readline(MAX_LINE + 1)
    if not line:
        return None
    if not line.endswith(b"\n"):
        raise WireError("message too long or cut off")
    return loads(line)
