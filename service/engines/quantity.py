"""Numbers with a unit ("64mb", "1.5h") read by hand from bounded strings.

A regular expression with optional whitespace on both sides of a number backtracks
quadratically on a long run of spaces (one request froze the event loop for seconds), so
these strings never meet one: the length is bounded first, then each part is checked with
plain string methods in one pass."""

from __future__ import annotations

MAX_LENGTH = 32  # far above the longest real value ("68719476736 b", "2592000.000 s")
_DIGITS = frozenset("0123456789")
_BLANKS = " \t"


def split_quantity(text: str, *, decimals: bool = False) -> tuple[str, str] | None:
    """(number, unit) from "<number>[blanks]<unit>", with blanks allowed around it; the
    number is ASCII digits (with one '.' when `decimals`), the unit ASCII letters, maybe
    empty. None when the text is not of that form or longer than MAX_LENGTH."""
    if len(text) > MAX_LENGTH:
        return None
    text = text.strip(_BLANKS)
    end = 0
    while end < len(text) and (text[end] in _DIGITS or (decimals and text[end] == ".")):
        end += 1
    number, unit = text[:end], text[end:].lstrip(_BLANKS)
    if not _is_number(number, decimals=decimals):
        return None
    if unit and not (unit.isascii() and unit.isalpha()):
        return None
    return number, unit


def _is_number(number: str, *, decimals: bool) -> bool:
    whole, dot, fraction = number.partition(".") if decimals else (number, "", "")
    if not whole or not _DIGITS.issuperset(whole):
        return False
    return not dot or (bool(fraction) and _DIGITS.issuperset(fraction))
