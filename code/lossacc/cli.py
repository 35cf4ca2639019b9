"""The ``lossacc`` command (and ``python -m lossacc``): the library's tools as sub-commands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from lossacc import diagnose
from lossacc.command_line import Parser


def main(argv: Sequence[str] | None = None) -> int:
    """``lossacc diagnose FILE [FILE] ...``; ``lossacc --help`` lists the sub-commands."""
    parser = Parser(
        prog="lossacc", description="Tools of the book 'Why validation loss and accuracy disagree'."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    diagnose.add_arguments(
        commands.add_parser(
            "diagnose",
            help="report on a model's saved validation predictions",
            description=diagnose.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    arguments = parser.parse_args(argv)
    try:
        status = diagnose.run(arguments)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (``| head``): what it read is all it wanted. Point stdout at
        # /dev/null so that Python's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return status
