"""JSON reports (AI results): identifying fields mapped, every other string scrubbed.

Fields are classified by their key (see :mod:`.fields`): a UID, patient ID, name, date or
accession number gets the same keyed pseudonym the images got (or a typed placeholder, as
the options say); a birth date, phone, e-mail, address or institution a placeholder. The
values found in those fields are the linked study's identifying values, looked for in every
other string (keys included, since results are often keyed by SOP Instance UID).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from anonymizer.errors import LeakDetected
from anonymizer.reports.detect import UID_PATTERN
from anonymizer.reports.errors import ReportError, ReportReason
from anonymizer.reports.fields import FieldKind, classify, normalize
from anonymizer.reports.redact import Redactor
from anonymizer.reports.values import StudyValues

_NAME_PARTS = ("familyname", "lastname", "surname", "givenname", "firstname", "forename")
_STUDY_KEYS = frozenset({"studyinstanceuid", "studyuid"})
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_EPOCH_SECONDS = (10**9, 10**10)
_EPOCH_MILLISECONDS = (10**12, 10**13)


def parse_json(data: bytes, *, max_depth: int) -> Any:
    """The parsed report; malformed JSON or too deep nesting is refused."""
    try:
        text = data.decode("utf-8-sig")
        document = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ReportError(ReportReason.MALFORMED, "the JSON report cannot be parsed") from None
    if _depth(document) > max_depth:
        raise ReportError(ReportReason.MALFORMED, f"the JSON report nests deeper than {max_depth}")
    return document


def collect_values(document: Any) -> StudyValues:
    """The identifying values held in the classified fields of ``document``."""
    values = StudyValues()
    _collect(document, parent="", values=values)
    return values


def _collect(node: Any, *, parent: str, values: StudyValues) -> None:
    if isinstance(node, list):
        for item in node:
            _collect(item, parent=parent, values=values)
        return
    if not isinstance(node, dict):
        return
    issuer = _issuer(node, parent)
    parts: dict[str, str] = {}
    for key, value in node.items():
        kind = classify(key, parent)
        if isinstance(value, dict | list):
            _collect(value, parent=key, values=values)
            continue
        if kind is None or kind is FieldKind.DATE or value is None or isinstance(value, bool):
            continue
        text = str(value)
        if kind is FieldKind.NAME_PART:
            parts[normalize(key)] = text
        elif kind is FieldKind.UID:
            if UID_PATTERN.fullmatch(text.strip()) or _loose_uid(text):
                values.add(kind, text)
        else:
            values.add(kind, text, issuer=issuer)
    if parts:
        family = next((parts[k] for k in _NAME_PARTS[:3] if k in parts), "")
        given = next((parts[k] for k in _NAME_PARTS[3:] if k in parts), "")
        joined = "^".join(p for p in (family, given) if p)
        patient = normalize(parent) in {"patient", "subject", ""}
        values.add(FieldKind.PATIENT_NAME if patient else FieldKind.PERSON_NAME, joined)


def _issuer(node: dict[str, Any], parent: str) -> str:
    for key, value in node.items():
        if classify(key, parent) is FieldKind.ISSUER and isinstance(value, str):
            return value.strip()
    return ""


def _loose_uid(text: str) -> bool:
    parts = text.strip().split(".")
    return len(parts) >= 2 and all(p.isdigit() for p in parts) and len(text.strip()) <= 64


@dataclass
class JsonResult:
    """The de-identified document and the Study Instance UID it names at the top, if any."""

    document: Any
    study_uid: str | None


def deidentify_json(document: Any, redactor: Redactor) -> JsonResult:
    """Map identifying fields, scrub every other string (keys too)."""
    study = None
    if isinstance(document, dict):
        for key, value in document.items():
            if normalize(key) in _STUDY_KEYS and isinstance(value, str):
                study = redactor.uid(value)
    return JsonResult(_transform(document, parent="", kind=None, redactor=redactor), study)


def _transform(node: Any, *, parent: str, kind: FieldKind | None, redactor: Redactor) -> Any:
    if isinstance(node, dict):
        issuer = _issuer(node, parent)
        out: dict[str, Any] = {}
        for key, value in node.items():
            child_kind = classify(key, parent)
            new_key = _unique(redactor.scrub(key), out)
            if isinstance(value, dict | list):
                out[new_key] = _transform(value, parent=key, kind=child_kind, redactor=redactor)
            else:
                out[new_key] = _leaf(value, kind=child_kind, redactor=redactor, issuer=issuer)
        return out
    if isinstance(node, list):
        return [_transform(item, parent=parent, kind=kind, redactor=redactor) for item in node]
    return _leaf(node, kind=kind, redactor=redactor, issuer="")


def _leaf(value: Any, *, kind: FieldKind | None, redactor: Redactor, issuer: str) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return _number(value, kind=kind, redactor=redactor, issuer=issuer)
    text = str(value)
    if kind is FieldKind.NAME_PART:
        kind = FieldKind.PERSON_NAME
    if kind is FieldKind.UID and not (UID_PATTERN.fullmatch(text.strip()) or _loose_uid(text)):
        kind = None
    if kind is not None:
        replaced = redactor.field_value(kind, text, issuer=issuer)
        if replaced is not None:
            return replaced
        if kind is not FieldKind.DATE:
            return text
    return redactor.scrub(text)


def _number(
    value: float, *, kind: FieldKind | None, redactor: Redactor, issuer: str
) -> float | str | None:
    if kind is FieldKind.DATE:
        return _epoch(value, redactor)
    text = str(value)
    if kind is not None and kind is not FieldKind.UID:
        replaced = redactor.field_value(kind, text, issuer=issuer)
        return value if replaced is None else replaced
    if text in redactor.values.patient_ids:
        return redactor.field_value(FieldKind.PATIENT_ID, text) or value
    return value


def _epoch(value: float, redactor: Redactor) -> float | str | None:
    """A date field given as a Unix time: shifted in whole days, or removed."""
    if redactor.keeps_dates():
        return value
    days = redactor.days
    if days is None or redactor.safe_harbor:
        return None
    if _EPOCH_SECONDS[0] <= abs(value) < _EPOCH_SECONDS[1]:
        return value + days * 86_400
    if _EPOCH_MILLISECONDS[0] <= abs(value) < _EPOCH_MILLISECONDS[1]:
        return value + days * 86_400_000
    return None


def _unique(key: str, existing: dict[str, Any]) -> str:
    """Two keys scrubbed to the same text must not overwrite each other."""
    if key not in existing:
        return key
    number = 2
    while f"{key} ({number})" in existing:
        number += 1
    return f"{key} ({number})"


def verify_json(document: Any, redactor: Redactor) -> None:
    """Raise :class:`LeakDetected` naming the JSON paths that still hold identifying values."""
    places: list[str] = []
    stack: list[tuple[Any, str]] = [(document, "$")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                child = f"{path}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{path}[{key!r}]"
                if redactor.leaks(key):
                    places.append(f"{path} (key)")
                stack.append((value, child))
        elif isinstance(node, list):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node))
        elif isinstance(node, str):
            kinds = redactor.leaks(node)
            if kinds:
                places.append(f"{path} ({', '.join(sorted(set(kinds)))})")
        elif (
            isinstance(node, int | float)
            and not isinstance(node, bool)
            and str(node) in redactor.values.patient_ids
        ):
            places.append(f"{path} (ID)")
    if places:
        raise LeakDetected(sorted(places))


def dump_json(document: Any) -> bytes:
    """UTF-8 JSON, indented, non-ASCII as is."""
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def _depth(node: Any, limit: int = 10_000) -> int:
    """Nesting depth without recursion (the parser already bounded it)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(node, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > limit:
            break
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest
