"""Plain-text and Markdown reports: decoded, scrubbed, written back as UTF-8.

Korean reports often come in CP949 (EUC-KR) rather than UTF-8; both are read, and UTF-16
with a byte-order mark. Whatever came in, UTF-8 goes out, so the leak check and every
reader see one encoding.
"""

from __future__ import annotations

import codecs

from anonymizer.errors import LeakDetected
from anonymizer.reports.errors import ReportError, ReportReason
from anonymizer.reports.redact import Redactor

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_FALLBACKS = ("utf-8", "cp949")


def decode_text(data: bytes) -> str:
    """The report's text; binary data or an unknown encoding is refused."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _checked(data.decode(encoding))
            except UnicodeDecodeError:
                break
    else:
        for encoding in _FALLBACKS:
            try:
                return _checked(data.decode(encoding))
            except UnicodeDecodeError:
                continue
    raise ReportError(ReportReason.MALFORMED, "the text report is not UTF-8, UTF-16 or CP949")


def _checked(text: str) -> str:
    if "\0" in text:
        raise ReportError(ReportReason.MALFORMED, "the text report holds binary data")
    return text


def deidentify_text(text: str, redactor: Redactor) -> str:
    """``text`` with every identifying value replaced."""
    return redactor.scrub(text)


def verify_text(text: str, redactor: Redactor, *, label: str = "line") -> None:
    """Raise :class:`LeakDetected` naming the lines that still hold an identifying value."""
    places = []
    for number, line in enumerate(text.splitlines() or [text], 1):
        kinds = redactor.leaks(line)
        if kinds:
            places.append(f"{label} {number} ({', '.join(sorted(set(kinds)))})")
    # A value may also be split across lines ("DOE,\nJOHN"): check the text whole too.
    if not places:
        kinds = redactor.leaks(text)
        if kinds:
            places.append(f"text ({', '.join(sorted(set(kinds)))})")
    if places:
        raise LeakDetected(places)
