"""``geomon fetch``'s option types shared by the sources' subcommands: each parses one flag or says clearly why it
cannot (argparse turns the message into a usage error, exit status 2). A source's own option types live in its
folder (pipeline/sources/comtrade/options.py: reporters, years, flows)."""

from __future__ import annotations

import argparse
import re


def _choices(allowed: tuple[str, ...], what: str):
    def parse(text: str) -> list[str]:
        values = [v.strip().upper() for v in text.split(",") if v.strip()]
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise argparse.ArgumentTypeError(f"{what} {','.join(bad) or text!r}: choose from {','.join(allowed)}")
        return sorted(set(values))
    return parse


_MONTH = re.compile(r"(\d{4})-(\d{2})")


def _month(text: str) -> str:
    m = _MONTH.fullmatch(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month YYYY-MM (01..12)")
    return text.strip()


def _months(text: str) -> list[str]:
    out: list[str] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if ".." in part:
            lo, hi = (_month(x) for x in part.split("..", 1))
            if lo > hi:
                raise argparse.ArgumentTypeError(f"{part}: the range runs backwards")
            y, m = int(lo[:4]), int(lo[5:])
            while f"{y:04d}-{m:02d}" <= hi:
                out.append(f"{y:04d}-{m:02d}")
                y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        else:
            out.append(_month(part))
    return sorted(set(out))


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of calls per second") from None
    if value < 0:
        raise argparse.ArgumentTypeError("the rate must be >= 0 (0 = no throttle)")
    return value
