"""The comments of code cells: each one a catalog entry (msgctxt "code comment"), replaced in place.

A comment is the one part of a code cell a translation may change: Python ignores it, so the two editions
still run the same program and print the same outputs. The build replaces only the text of the COMMENT
tokens (found by `tokenize`, so a `#` inside a string is never touched); every other character of the
cell, its indentation, outputs and execution counts stay the English ones.

Not extracted: comments that tools read (a shebang, `# noqa`, `# type: ignore`, nbval's markers...) and
comments without a letter (`# 0 .. 10`). A comment that starts with a marker and explains it
(`# nbval-ignore-output: the output varies, because ...`) keeps the marker and offers the explanation.
"""

from __future__ import annotations

import io
import re
import tokenize
import unicodedata
from dataclasses import dataclass

#: The msgctxt of comment entries: they never collide with a paragraph of the same text.
CONTEXT = "code comment"
#: A comment a tool reads: copied as it is.
MARKER = re.compile(r"#\s*(!|-\*-|noqa\b|type:|pragma\b|fmt:|pylint:|isort:|mypy:|NBVAL_\w+\s*$"
                    r"|nbval-[a-z-]+\s*$)", re.IGNORECASE)
#: The part of a comment kept as it is: `#`, its spaces, and a marker the text explains.
KEPT = re.compile(r"#+\s*(?:nbval-[a-z-]+:\s*)?", re.IGNORECASE)
#: A line a translated comment makes wider than this (in screen columns) and than its English is too long.
WIDTH = 100


@dataclass(frozen=True)
class Comment:
    """One translatable comment of a cell: where it is, the part kept, and the text a translator sees."""
    line: int          # 1-based line of the cell
    column: int        # where `#` is
    token: str         # the whole comment, as in the cell
    kept: str          # "# " or "# nbval-ignore-output: "
    text: str          # the msgid
    before: str        # the line up to the comment: the code, and the spaces that align the comment

    @property
    def code(self) -> str:
        """The line's code (shown to the translator as context)."""
        return self.before.strip()

    @property
    def english_line(self) -> str:
        return self.before + self.token

    def translated(self, translation: str) -> str:
        """The comment token with its text replaced (the marker and any trailing spaces kept)."""
        trailing = self.token[len(self.kept) + len(self.text):]
        return self.kept + translation + trailing


def tokens(source: str) -> list[tokenize.TokenInfo] | None:
    """The cell's tokens, or None for a cell Python cannot tokenize (IPython syntax): copied as it is."""
    try:
        return list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return None


def comments(source: str) -> list[Comment]:
    """The translatable comments of a code cell, in order."""
    found = []
    lines = source.split("\n")
    for token in tokens(source) or []:
        if token.type != tokenize.COMMENT or MARKER.match(token.string):
            continue
        kept = KEPT.match(token.string).group(0)
        text = token.string[len(kept):].rstrip()
        if not any(char.isalpha() for char in text):
            continue
        row, column = token.start
        found.append(Comment(row, column, token.string, kept, text, lines[row - 1][:column]))
    return found


def translate(source: str, table: dict[str, str]) -> str:
    """The cell's source with each comment that has a translation replaced; nothing else changes."""
    lines = source.split("\n")
    for comment in comments(source):
        translation = table.get(comment.text)
        if translation:
            line = lines[comment.line - 1]
            end = comment.column + len(comment.token)
            lines[comment.line - 1] = line[:comment.column] + comment.translated(translation) + line[end:]
    return "\n".join(lines)


def width(line: str) -> int:
    """Screen columns: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)


def too_wide(english_line: str, translated_line: str) -> bool:
    return width(translated_line) > max(WIDTH, width(english_line))
