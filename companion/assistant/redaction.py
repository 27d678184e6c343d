"""Redaction of e-mail addresses and phone numbers from text bound for an external model endpoint
(`llm.redact_pii`).

Phone numbers are recognized by their shape, not by any run of digits, so dates (2026-11-23), times
(14:30), years, ISO standard numbers (ISO 9001:2015), version numbers (1.2.3) and counts stay as they are:

- international: `+` and a country code, then groups separated by spaces, hyphens, dots or
  parentheses, 8 to 15 digits in all (+44 20 7946 0958, +1 (555) 123-4567, +33 1 23 45 67 89);
- North American: (555) 123-4567, 555-123-4567, 555.123.4567, 555 123 4567;
- national numbers with a trunk 0: 020 7946 0958, 07700 900123, 030-1234567.
"""

from __future__ import annotations

import re

EMAIL_PLACEHOLDER = "[email]"
PHONE_PLACEHOLDER = "[phone]"

EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}\b")  # fmt: skip

_BEFORE = r"(?<![\w+.\-/:])"  # not glued to a word, a number, a date, a path or a time
_AFTER = r"(?![\w\-/:]|\.\d)"
_SHAPES = (
    r"\+\d{1,3}(?:[ .\-]?\(\d{1,4}\))?(?:[ .\-]?\d{1,5}){2,6}",  # +CC, an optional (0) or (area), groups
    r"\(\d{3}\)[ .\-]?\d{3}[ .\-]\d{4}",  # North American (555) 123-4567
    r"\d{3}[ .\-]\d{3}[ .\-]\d{4}",  # North American 555-123-4567
    r"0\d{2,4}[ \-]\d{3,4}(?:[ \-]?\d{3,4})?",  # national, with a trunk 0
)
PHONE = re.compile(_BEFORE + "(?:" + "|".join(_SHAPES) + ")" + _AFTER)


def _phone_digits_ok(match: re.Match[str]) -> bool:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return 8 <= digits <= 15 if match.group(0).startswith("+") else 9 <= digits <= 12


def redact(text: str) -> str:
    """`text` with e-mail addresses replaced by `[email]` and phone numbers by `[phone]`."""
    text = EMAIL.sub(EMAIL_PLACEHOLDER, text)
    return PHONE.sub(lambda m: PHONE_PLACEHOLDER if _phone_digits_ok(m) else m.group(0), text)
