"""python -m i18n update | build | check [--lang zh_CN]: the translation workflow (docs/translating.md)."""

from __future__ import annotations

import argparse
import sys

from . import build, catalogs, notebooks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m i18n", description=__doc__)
    parser.add_argument("command", choices=["update", "build", "check"],
                        help="update: extract the English paragraphs, code comments and printed labels and merge them "
                             "into the catalogs; "
                             "build: write notebooks/<lang>/ from the catalogs; "
                             "check: fail on missing or fuzzy entries of the chapters declared translated")
    parser.add_argument("--lang", action="append", help="a language (default: every one under locale/)")
    parser.add_argument("chapters", nargs="*", help="update only these chapters (default: every chapter)")
    args = parser.parse_args(argv)
    langs = args.lang or notebooks.languages()
    status = 0
    for lang in langs:
        if args.command == "update":
            for chapter in args.chapters or notebooks.chapters():
                if catalogs.update(lang, chapter):
                    print(f"updated {catalogs.catalog_path(lang, chapter).relative_to(notebooks.ROOT)}")
        elif args.command == "build":
            for path in build.write_language(lang):
                print(f"wrote {path.relative_to(notebooks.ROOT)}")
        else:
            declared = notebooks.translated_chapters(lang)
            found = [problem for chapter in declared for problem in catalogs.problems(lang, chapter)]
            stale = [name for name, text in build.build_language(lang).items()
                     if not (build.folder(lang) / name).exists()
                     or (build.folder(lang) / name).read_text(encoding="utf-8") != text]
            found += [f"stale: notebooks/{build.FOLDERS.get(lang, lang)}/{name} differs from its build "
                      f"(run `python -m i18n build`)" for name in stale]
            for problem in found:
                print(f"{lang}: {problem}")
            print(f"{lang}: {len(declared)} chapter(s) declared translated, {len(found)} problem(s)")
            status = status or (1 if found else 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
