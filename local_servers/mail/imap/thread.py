"""THREAD (RFC 5256 sections 2.2 and 3): conversations as nested lists of message numbers.

ORDEREDSUBJECT groups messages by base subject (sort.base_subject): each
group is a thread whose first message (by sent date) is the parent of all
the others. REFERENCES follows the References and In-Reply-To headers
(Jamie Zawinski's algorithm): messages become containers linked by the
message IDs they cite; a cited message we do not have is a "dummy"
container that only holds its children. Threads that still share a base
subject are merged at the end.

The answer nests: "(3 2)(1)" is two threads, 2 a reply to 3; "(1 (2)(3))"
is 1 with two replies; "((2)(3))" is two replies to a missing message.
Every loop here is iterative, so a long reply chain cannot exhaust the
stack.
"""

from __future__ import annotations

import re

from .mime import Part
from .sort import base_subject, casemap, sent_date

ALGORITHMS = ("ORDEREDSUBJECT", "REFERENCES")
_MSG_ID = re.compile(rb"<[^<>\s]+>")


class Node:
    """A container: a message (seq) or a dummy (seq None) standing for a cited one we lack."""

    __slots__ = ("seq", "date", "subject", "is_reply", "parent", "children")

    def __init__(self, seq: int | None = None, date: float = 0.0, subject: str = "", is_reply: bool = False):
        self.seq, self.date, self.subject, self.is_reply = seq, date, subject, is_reply
        self.parent: Node | None = None
        self.children: list[Node] = []

    def order(self):
        """Siblings sort by sent date, then sequence; a dummy by its first child's."""
        node = self
        while node.seq is None and node.children:
            node = node.children[0]
        return node.date, node.seq or 0

    def is_ancestor_of(self, other: "Node") -> bool:
        node = other
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False


def _link(child: Node, parent: Node) -> None:
    if child.parent is not None:
        child.parent.children.remove(child)
    child.parent = parent
    parent.children.append(child)


def _describe(folder, seq: int, msg, headers: dict[int, Part]) -> tuple[Part, Node]:
    part = headers[msg.uid]
    subject, is_reply = base_subject(part.get("subject"))
    return part, Node(seq, sent_date(part, folder.mtime(msg)), casemap(subject), is_reply)


def thread(folder, found: list[tuple[int, object]], algorithm: str, headers: dict[int, Part]) -> list[Node]:
    """The threads of found [(number, msg)]; headers: each message's header Part by UID."""
    if algorithm == "ORDEREDSUBJECT":
        return _ordered_subject([_describe(folder, seq, msg, headers)[1] for seq, msg in found])
    return _references(folder, found, headers)


def _ordered_subject(nodes: list[Node]) -> list[Node]:
    groups: dict[str, Node] = {}
    roots = []
    for node in sorted(nodes, key=Node.order):
        if (first := groups.get(node.subject)) is None:
            groups[node.subject] = node
            roots.append(node)
        else:
            _link(node, first)
    return roots  # already in date order, and so is each group's list of children


def _references(folder, found, headers: dict[int, Part]) -> list[Node]:
    by_id: dict[bytes, Node] = {}
    messages = []
    for seq, msg in found:  # step 1: containers and links
        part, node = _describe(folder, seq, msg, headers)
        messages.append(node)
        ids = _MSG_ID.findall(part.get("message-id") or b"")
        own = ids[0] if ids else None
        if own is not None and own in by_id and by_id[own].seq is None:
            container = by_id[own]  # a dummy made for it earlier: it is this message
            container.seq, container.date, container.subject, container.is_reply = (
                node.seq, node.date, node.subject, node.is_reply)
            messages[-1] = node = container
        elif own is not None and own not in by_id:
            by_id[own] = node
        cited = _MSG_ID.findall(part.get("references") or b"") or _MSG_ID.findall(
            part.get("in-reply-to") or b"")[:1]
        previous = None
        for ref in cited:
            if (container := by_id.get(ref)) is None:
                container = by_id[ref] = Node()
            if (previous is not None and container.parent is None and container is not previous
                    and not container.is_ancestor_of(previous)):
                _link(container, previous)
            previous = container
        if node.parent is not None:  # its own headers decide its parent, not another's References
            node.parent.children.remove(node)
            node.parent = None
        if previous is not None and previous is not node and not node.is_ancestor_of(previous):
            _link(node, previous)
    roots = _unique([n for n in list(by_id.values()) + messages if n.parent is None])
    roots = _prune(roots)
    roots = _merge_by_subject(roots)
    _sort_tree(roots)
    return roots


def _unique(nodes: list[Node]) -> list[Node]:
    return list({id(node): node for node in nodes}.values())


def _prune(roots: list[Node]) -> list[Node]:
    """Step 3: drop empty dummies; a dummy's children take its place (at the root only if it has one)."""
    stack = list(roots)
    while stack:
        node = stack.pop()
        changed = True
        while changed:
            changed = False
            for child in list(node.children):
                if child.seq is None:
                    index = node.children.index(child)
                    node.children[index:index + 1] = child.children
                    for grandchild in child.children:
                        grandchild.parent = node
                    changed = True
        stack.extend(node.children)
    result = []
    for node in roots:
        if node.seq is None and len(node.children) <= 1:
            for child in node.children:
                child.parent = None
            result.extend(node.children)
        else:
            result.append(node)
    return result


def _subject_of(node: Node) -> tuple[str, bool]:
    if node.seq is None and node.children:
        first = min(node.children, key=Node.order)
        return first.subject, first.is_reply
    return node.subject, node.is_reply


def _merge_by_subject(roots: list[Node]) -> list[Node]:
    """Step 5: threads whose roots share a base subject become one."""
    table: dict[str, Node] = {}
    for node in roots:
        subject, is_reply = _subject_of(node)
        if not subject:
            continue
        old = table.get(subject)
        if (old is None or (node.seq is None and old.seq is not None)
                or (old.seq is not None and _subject_of(old)[1] and not is_reply)):
            table[subject] = node
    result = []
    for node in roots:
        subject, is_reply = _subject_of(node)
        keeper = table.get(subject) if subject else None
        if keeper is None or keeper is node:
            result.append(node)
            continue
        if keeper.seq is None and node.seq is None:
            for child in list(node.children):
                _link(child, keeper)
        elif keeper.seq is None or (not _subject_of(keeper)[1] and is_reply):
            _link(node, keeper)
        else:
            dummy = Node()
            if keeper in result:
                result[result.index(keeper)] = dummy
            else:
                result.append(dummy)
            _link(keeper, dummy)
            _link(node, dummy)
            table[subject] = dummy
    return [n for n in result if n.parent is None]


def _sort_tree(roots: list[Node]) -> None:
    stack = [roots]
    while stack:
        siblings = stack.pop()
        siblings.sort(key=Node.order)
        stack.extend(n.children for n in siblings if n.children)


def render(roots: list[Node]) -> bytes:
    """(1 2 3)(4 (5)(6)): a single reply continues the line, several replies each get parentheses."""
    out: list[str] = []

    def emit(text: str) -> None:
        if out and out[-1][-1].isdigit() and (text[0].isdigit() or text == "("):
            out.append(" ")
        out.append(text)

    stack: list = []
    for root in reversed(roots):
        stack += [")", root, "("]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            emit(item)
            continue
        node = item
        if node.seq is not None:
            emit(str(node.seq))
        while len(node.children) == 1 and node.seq is not None:  # a single reply continues the line
            node = node.children[0]
            if node.seq is not None:
                emit(str(node.seq))
        for child in reversed(node.children):
            stack += [")", child, "("]
    return "".join(out).encode()
