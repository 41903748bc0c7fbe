"""Printed labels: a string literal that a code cell passes to print() first, translated in the code and
in the cell's printed output together (msgctxt "printed text").

A translated literal changes what the cell prints, and the Chinese notebooks are checked by strict nbval
against their committed outputs, so the build changes both, and only where it can tell exactly which
printed text came from the literal:

- the literal is the first argument of a `print(...)` call with no keyword arguments (default `sep` and
  `end`), so what it prints starts a line of the output, followed by a space or the end of the line;
- the call is not inside a function, class or lambda, so its output is in this cell's output and no other;
- the literal is one plain string token (no prefix, no escapes, no triple quotes), so its value is its text;
- it is a label in words: at least one lowercase English word besides code names (`stat()`, `UID`,
  `HTTPError`, `Content-Type` are not words), which keeps protocol text and code out of the catalog;
- no other argument of the call has words of its own (`print("received:", n, "of", total, "bytes")` is
  left out), so a printed line is never half Chinese, half English.

In the outputs, a line of the cell's standard output that equals the label or starts with the label and
a space gets the translation in its place. Running the Chinese code must print exactly these outputs:
strict nbval of notebooks/zh/ proves it.
"""

from __future__ import annotations

import ast
import re
import tokenize
from dataclasses import dataclass

from . import comments

#: The msgctxt of printed labels.
CONTEXT = "printed text"
#: A word that is code or protocol text: identifiers, calls, paths, numbers, ALL CAPS, CamelCase.
CODE_WORD = re.compile(r"[_().\[\]/\\\d<>=@]|^[A-Z0-9-]+:?$|[a-z][A-Z]")
PLAIN_WORD = re.compile(r"[a-z][a-z'-]*[:,;]?")
#: A plain string token: quotes and the text, nothing the text would have to escape.
SIMPLE = re.compile(r"""^(?:'[^'\\\n]*'|"[^"\\\n]*")$""")


@dataclass(frozen=True)
class Label:
    """One printed label of a cell: where its literal is, and its text (the msgid)."""
    line: int          # 1-based line of the cell
    column: int        # where the literal's opening quote is (characters)
    literal: str       # the literal as written, quotes included
    text: str          # its value
    code: str          # the line's code (context for the translator)

    def replaced(self, translation: str) -> str:
        quote = self.literal[0]
        return quote + translation + quote


def is_label(text: str) -> bool:
    words = [word for word in text.split() if not CODE_WORD.search(word)]
    return any(PLAIN_WORD.fullmatch(word) for word in words)


def has_words(node: ast.AST) -> bool:
    """A literal or f-string argument that prints words of its own."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return is_label(node.value)
    if isinstance(node, ast.JoinedStr):
        return any(has_words(part) for part in node.values)
    return False


def usable(translation: str, english: str) -> bool:
    """A translation the build can write between the same quotes without escaping anything: no backslash,
    no line break, and no quote character that the English label does not have itself."""
    forbidden = set("\\\n\"'") - set(english)
    return not forbidden & set(translation)


def labels(source: str) -> list[Label]:
    """The printed labels of a code cell, in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    lines = source.split("\n")
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                                       ast.ClassDef))
            if (not nested and isinstance(child, ast.Call) and isinstance(child.func, ast.Name)
                    and child.func.id == "print" and not child.keywords and child.args
                    and isinstance(child.args[0], ast.Constant) and isinstance(child.args[0].value, str)):
                arg = child.args[0]
                literal = ast.get_source_segment(source, arg)
                match = SIMPLE.match(literal or "")
                if (match and arg.lineno == arg.end_lineno and is_label(arg.value)
                        and not any(has_words(other) for other in child.args[1:])):
                    line = lines[arg.lineno - 1]
                    column = len(line.encode("utf-8")[:arg.col_offset].decode("utf-8"))
                    found.append(Label(arg.lineno, column, literal, arg.value, line.strip()))
            visit(child, nested)

    visit(tree, False)
    return sorted(found, key=lambda label: (label.line, label.column))


def translate_source(source: str, table: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The cell's source with its labels replaced, and the labels it replaced (English -> translation).
    An end-of-line comment after a replaced label keeps its screen column, as far as spaces allow."""
    lines = source.split("\n")
    english = list(lines)
    done = {}
    for label in reversed(labels(source)):  # right to left: earlier columns stay valid
        translation = table.get(label.text)
        if translation and usable(translation, label.text):
            line = lines[label.line - 1]
            end = label.column + len(label.literal)
            lines[label.line - 1] = line[:label.column] + label.replaced(translation) + line[end:]
            done[label.text] = translation
    for token in comments.tokens(source) or []:
        row, column = token.start
        if token.type == tokenize.COMMENT and lines[row - 1] != english[row - 1]:
            lines[row - 1] = keep_comment_column(english[row - 1], lines[row - 1], column)
    return "\n".join(lines), done


def keep_comment_column(english: str, translated: str, column: int) -> str:
    """The translated line with the spaces before its comment (at `column` in the English line) widened or
    narrowed so that the comment starts in the same screen column (at least two spaces stay)."""
    start = column + len(translated) - len(english)  # the comment, after every replacement on the line
    code = translated[:start]
    before = code.rstrip(" ")
    if len(code) - len(before) < 2:
        return translated
    spaces = len(code) - len(before) + comments.width(english[:column]) - comments.width(code)
    return before + " " * max(2, spaces) + translated[start:]


def translate_line(line: str, done: dict[str, str]) -> str:
    """One printed line: a line that a replaced label starts gets the translation (the longest label first)."""
    for english in sorted(done, key=len, reverse=True):
        if line == english or line.startswith(english + " "):
            return done[english] + line[len(english):]
    return line


def translate_outputs(outputs: list[dict], done: dict[str, str]) -> None:
    """Replace the labels in the cell's standard output, line by line, keeping the text's list form."""
    for output in outputs:
        if output.get("output_type") != "stream" or output.get("name") != "stdout" or not done:
            continue
        text = output["text"]
        joined = "".join(text) if isinstance(text, list) else text
        new = "\n".join(translate_line(line, done) for line in joined.split("\n"))
        if new != joined:
            if isinstance(text, list):
                parts = new.split("\n")
                output["text"] = [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
            else:
                output["text"] = new
