"""LIST and LSUB: which mailbox names a pattern selects (list_match), and what is said about each.

RFC 3501 6.3.8: a superior name that does not exist itself ("Work" above "Work.Reports") is listed
as \\Noselect. RFC 5258 (LIST-EXTENDED) adds selection options before the reference, several
patterns in parentheses and RETURN options after them (SELECT_OPTIONS, RETURN_OPTIONS below; with
RFC 6154's SPECIAL-USE and RFC 5819's STATUS (...), which LIST-STATUS adds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .syntax import Args, ParseError

DELIMITER = "."
SELECT_OPTIONS = ("SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE")
RETURN_OPTIONS = ("SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS")
#: RFC 6154 attributes of the course's folders, by name.
SPECIAL_USE = {"Sent": "\\Sent", "Archive": "\\Archive", "Drafts": "\\Drafts", "Trash": "\\Trash",
               "Junk": "\\Junk"}


def list_match(pattern: str, name: str, delimiter: str = DELIMITER) -> bool:
    """LIST's wildcards: "*" matches anything, "%" anything but the delimiter. A regex like "[^.]*[^.]*..."
    backtracks exponentially on "%%%%..."; here the pattern runs as the set of positions reached so far, one
    step per character of the name: the cost is at most len(name) x len(pattern)."""
    # a run of wildcards is one wildcard: "*" if it holds a "*", else "%"
    tokens = re.sub(r"[*%]+", lambda run: "*" if "*" in run.group() else "%", pattern)
    end = len(tokens)

    def closure(states: set[int]) -> set[int]:
        return states | {i + 1 for i in states if i < end and tokens[i] in "*%"}

    states = closure({0})
    for char in name:
        following = set()
        for i in states - {end}:
            if tokens[i] == "*" or (tokens[i] == "%" and char != delimiter):
                following.add(i)
            elif tokens[i] == char:
                following.add(i + 1)
        states = closure(following)
        if not states:
            return False
    return end in states


@dataclass
class ListRequest:
    lsub: bool
    reference: str
    patterns: list[str]
    select: set[str] = field(default_factory=set)
    returns: set[str] = field(default_factory=set)
    status_items: list[str] = field(default_factory=list)

    @property
    def extended(self) -> bool:
        return bool(self.select or self.returns or len(self.patterns) > 1)

    def matches(self, name: str) -> bool:
        """INBOX matches in any case; other names exactly."""
        inbox = name.upper() == "INBOX"
        return any(list_match((self.reference + pattern).upper() if inbox else self.reference + pattern, name)
                   for pattern in self.patterns)


def _status_items(args: Args) -> list[str]:
    """LIST-STATUS (RFC 5819): the "(MESSAGES UNSEEN)" after RETURN (... STATUS."""
    args.expect(b"(")
    return args.rest_of_list(lambda: args.atom().upper())


def parse(args: Args, lsub: bool) -> ListRequest:
    """[SP "(" select-opts ")"] SP reference SP (pattern / "(" patterns ")") [SP RETURN "(" opts ")"]."""
    args.sp()
    select = set() if lsub else _selection(args)
    reference = args.astring().decode("utf-8", "replace")
    args.sp()
    if not lsub and args.accept(b"("):
        patterns = args.rest_of_list(args.list_mailbox)
    else:
        patterns = [args.list_mailbox()]
    returns, status = (set(), []) if lsub else _returns(args)
    args.end()
    return ListRequest(lsub, reference, [p.decode("utf-8", "replace") for p in patterns], select, returns, status)


def _selection(args: Args) -> set[str]:
    """LIST-EXTENDED's selection options, "(SUBSCRIBED RECURSIVEMATCH) " before the reference."""
    if args.peek() != ord("("):
        return set()
    select = set(args.option_list(SELECT_OPTIONS, "LIST selection"))
    args.sp()
    if "RECURSIVEMATCH" in select and not select - {"RECURSIVEMATCH", "REMOTE"}:
        raise ParseError("RECURSIVEMATCH needs another selection option (RFC 5258 3)")
    return select


def _returns(args: Args) -> tuple[set[str], list[str]]:
    """LIST-EXTENDED's " RETURN (CHILDREN STATUS (MESSAGES))" after the patterns: the options and STATUS items."""
    if not args.accept(b" RETURN "):
        return set(), []
    options = args.option_list(RETURN_OPTIONS, "LIST return", {"STATUS": _status_items})
    return set(options), options.get("STATUS") or []


def superiors(name: str) -> list[str]:
    parts = name.split(DELIMITER)
    return [DELIMITER.join(parts[:i]) for i in range(1, len(parts))]


def listing(request: ListRequest, existing: list[str], subscribed: list[str],
            special_use: dict | None = None) -> list[tuple[str, list[str], bool]]:
    """(name, attributes, has CHILDINFO) for each mailbox the request selects, INBOX first
    (special_use: see _extension_attributes)."""
    exists, subs = set(existing), set(subscribed)
    if request.lsub:
        names = [n for n in subscribed if n in exists]
    else:
        names = list(subscribed) if "SUBSCRIBED" in request.select else existing
    listed, candidates = set(names), set(names)
    recursive = "RECURSIVEMATCH" in request.select
    if not request.select or request.lsub or recursive:
        for name in names:  # superior names that do not exist themselves: \Noselect (RECURSIVEMATCH: CHILDINFO)
            candidates.update(superiors(name))
    matching = {n for n in candidates if request.matches(n)}
    result = []
    for name in sorted(matching, key=lambda n: (n != "INBOX", n)):
        # RECURSIVEMATCH reports a parent only for a selected descendant the patterns do not show themselves
        childinfo = recursive and name not in listed and any(
            o.startswith(name + DELIMITER) and o not in matching for o in listed)
        if name in listed or childinfo:
            attributes = [] if name in exists else ["\\NonExistent"]
        elif recursive or any(o.startswith(name + DELIMITER) and o in matching for o in listed):
            continue  # a superior only when no listed descendant matches too (so "*" shows just the real names)
        else:
            attributes = ["\\Noselect"]
        if not request.lsub and "\\NonExistent" not in attributes:
            children = any(o.startswith(name + DELIMITER) for o in exists)
            attributes.append("\\HasChildren" if children else "\\HasNoChildren")
        if (extras := _extension_attributes(request, name, subs, special_use)) is not None:
            result.append((name, attributes + extras, childinfo))
    return result


def _extension_attributes(request: ListRequest, name: str, subs: set[str], special_use: dict | None):
    """\\Subscribed (LIST-EXTENDED) and the special-use attribute (RFC 6154) of a listed name; None if it
    is not listed after all: LIST (SPECIAL-USE) lists only the special mailboxes. special_use: a provider
    profile's folders (wire/profiles.py), whose attributes every LIST shows, as the providers do; by default
    the course's, shown when asked for (RFC 6154)."""
    uses, always = (SPECIAL_USE, False) if special_use is None else (special_use, True)
    if "SPECIAL-USE" in request.select and name not in uses:
        return None
    wanted = request.select | request.returns
    extras = ["\\Subscribed"] if "SUBSCRIBED" in wanted and name in subs else []
    return extras + ([uses[name]] if (always or "SPECIAL-USE" in wanted) and name in uses else [])
