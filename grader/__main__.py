"""The grading command line: batch-grade submissions (whole or in shards), merge shards, or check one lab."""

from __future__ import annotations

import argparse
import sys

from .labs import LABS, UNITS


def _shard(text: str):
    """argparse's reading of --shard K/N: a ShardError becomes its usage error, in one line."""
    from .shards import ShardError, parse

    try:
        return parse(text)
    except ShardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def arguments() -> argparse.ArgumentParser:
    """The command line's parser (tests read the documented commands with it)."""
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    batch = commands.add_parser("batch", help="grade a folder of submissions (one subfolder per student) into a CSV")
    batch.add_argument("submissions", help="folder with one subfolder per student, each shaped like labs/")
    batch.add_argument("--out", required=True, help="the CSV to write (a .json with details goes beside it)")
    batch.add_argument("--hidden-tests", default=None, help="a folder of extra tests students do not get")
    batch.add_argument("--jobs", type=int, default=None,
                       help="submissions graded at once (default: 4 per core; grading mostly waits)")
    batch.add_argument("--lab-timeout", type=float, default=None, help="seconds per test (default 10)")
    batch.add_argument("--submission-timeout", type=float, default=300,
                       help="seconds after which a whole submission is stopped (default 300)")
    batch.add_argument("--labs", default=None, help=f"only these labs, comma-separated ({','.join(LABS)})")
    batch.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                       help="grade only shard K of N (K from 1): every N-th submission by name, starting at the "
                            "K-th; join the shards' CSVs with the merge command")
    batch.add_argument("--no-shared-servers", action="store_true",
                       help="(kept for old scripts: every submission has servers of its own now)")

    merge = commands.add_parser("merge", help="join the CSVs of batch --shard 1/N ... N/N into one batch's CSV")
    merge.add_argument("out", help="the CSV to write (the JSON beside it too, when every shard has its JSON)")
    merge.add_argument("shards", nargs="+", help="the shards' CSVs, all N of them, in any order")

    one = commands.add_parser("check", help="run one lab's checks and print the table")
    one.add_argument("lab", choices=list(UNITS), help="a lab, or a chapter's exercises (ex02)")
    one.add_argument("--labs-dir", default=None, help="the labs folder (default: the course's labs/)")
    one.add_argument("--lang", choices=("en", "zh"), default=None,
                     help="the table's language (default: the locale's, or COURSE_LANG)")
    return parser


def main(argv=None) -> int:
    args = arguments().parse_args(argv)
    if args.command == "batch":
        from . import batch as batch_module

        return batch_module.main(args)
    if args.command == "merge":
        from .i18n import text
        from .shards import ShardError, merge as merge_shards

        try:
            rows, missing = merge_shards(args.out, args.shards)
        except ShardError as exc:
            print(text("error", message=exc), file=sys.stderr)
            return 2
        print(text("merged", shards=len(args.shards), count=len(rows), out=args.out))
        if missing:
            print(text("merge_no_details", missing=", ".join(map(str, missing))))
        return 0
    from .check import check

    result = check(args.lab, args.labs_dir, lang=args.lang)
    print(result)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
