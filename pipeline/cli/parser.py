"""The argument parser every command line of the project uses (``geomon``, the demo world, the reference build,
the benchmarks): no option is taken by its prefix, and a misspelt flag is an error naming the closest one."""

from __future__ import annotations

import argparse
import difflib
import sys


class Parser(argparse.ArgumentParser):
    """argparse without prefix matching (``--source`` is not taken for ``--sources``), and an unknown flag
    is an error naming the closest one. ``add_subparsers`` makes its parsers of the parent's class, so every
    subcommand's parser is one of these too."""

    def __init__(self, *args, **kwargs):
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        self._given = list(sys.argv[1:] if args is None else args)
        parsed, extras = super().parse_known_args(args, namespace)
        # a subcommand's parser knows its own flags: the place to name the closest one (the top parser
        # would only say "unrecognized arguments")
        unknown = self._unknown_flag(extras)
        if unknown:
            self.error(unknown)
        return parsed, extras

    def error(self, message):
        # a misspelt flag explains what follows from it (e.g. "one of --months --latest is required" for
        # --lates): name it instead. Only a parser without subcommands sees nothing but its own flags.
        if not self._subparsers and not message.startswith("unrecognized argument "):
            message = self._unknown_flag(getattr(self, "_given", [])) or message
        super().error(message)

    def _unknown_flag(self, given: list[str]) -> str | None:
        known = [o for action in self._actions for o in action.option_strings]
        for token in given:
            flag = token.split("=", 1)[0]
            if flag.startswith("--") and len(flag) > 2 and flag not in known:
                close = difflib.get_close_matches(flag, [k for k in known if k.startswith("--")], n=1, cutoff=0.6)
                return f"unrecognized argument {flag}" + (f"; did you mean {close[0]}?" if close else "")
        return None
