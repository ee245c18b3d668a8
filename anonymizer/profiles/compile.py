"""Compile a profile into a tag -> action table: applying it is a dictionary hit per element.

How PS3.15 Table E.1-1 codes become actions (see README, "How compound actions resolve"):

* An option that is in force replaces the Basic Profile code with its column's code.
  When two options in force both have a code for a row, K wins over C, and C over the rest.
* ``C`` under Retain Longitudinal Temporal Information with Modified Dates means SHIFT.
* Compound codes depend on the attribute's Type in the IOD, which the table does not carry.
  We use its "In Std. Comp. IOD" column: ``X/Z`` and ``X/Z/D`` give Z (the element stays,
  empty) for attributes used in a standard IOD and X otherwise; ``X/D`` gives D or X the same
  way; ``Z/D`` gives Z; ``X/Z/U*`` keeps the reference sequence and replaces the UIDs in it
  (its items are cleaned with the same table, so every instance UID is mapped).
* Public elements the table does not list are kept, except DA and DT elements, which follow
  the profile's date policy, so that no date escapes by not being listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from pydicom._dicom_dict import DicomDictionary

from anonymizer.actions import BASIC_PROFILE_CODE, Action, Option
from anonymizer.data import _annex_e, _safe_private
from anonymizer.profiles.loader import Profile
from anonymizer.profiles.model import DatePolicy, PatternRule, PrivatePolicy, Unlisted

_OPTION_INDEX = {Option(name): 7 + i for i, name in enumerate(_annex_e.OPTION_COLUMNS)}
_PRECEDENCE = {"K": 2, "C": 1}
_DATE_VRS = frozenset({"DA", "DT"})


class EffectiveRow(NamedTuple):
    """One line of ``anonymizer profiles show``."""

    tag: str
    name: str
    basic: str
    action: Action
    source: str


class _Pattern(NamedTuple):
    mask: int
    value: int
    action: Action
    text: str


@dataclass
class CompiledProfile:
    """A profile ready to apply: look up the action of any public tag in O(1)."""

    profile: Profile
    table: dict[int, Action]
    sources: dict[int, str]
    repeating_groups: dict[int, Action]
    patterns: tuple[_Pattern, ...]
    safe_private: frozenset[tuple[int, str, int]]
    sequence_tags: frozenset[int]
    age_tags: frozenset[int]
    _cache: dict[int, Action] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.profile.name

    def cached_action(self, tag: int) -> Action | None:
        """The action of a tag already looked up, else None (the walk's fast path)."""
        return self._cache.get(tag)

    def action_for(self, tag: int) -> Action:
        """The action for a public (even group) tag."""
        tag = int(tag)  # a plain int: pydicom's BaseTag compares in Python
        action = self._cache.get(tag)
        if action is None:
            action = self._resolve(tag)
            self._cache[tag] = action
        return action

    def private_action(self, tag: int) -> Action | None:
        """A pattern's action for a private tag, or None to follow the private policy."""
        for pattern in self.patterns:
            if tag & pattern.mask == pattern.value:
                return pattern.action
        return None

    def is_safe_private(self, group: int, creator: str, element: int) -> bool:
        return (group, creator, element & 0xFF) in self.safe_private

    def option_codes(self) -> list[tuple[str, str]]:
        """CID 7050 codes for the Basic Profile and every option in force, in code order.

        Under Safe Harbor every date is cut to its year, so "full dates" (113106) would be
        untrue: it is recorded as modified dates (113107).
        """
        options = set(self.profile.options)
        if self.profile.safe_harbor and Option.RETAIN_LONGITUDINAL_FULL_DATES in options:
            options.discard(Option.RETAIN_LONGITUDINAL_FULL_DATES)
            options.add(Option.RETAIN_LONGITUDINAL_MODIFIED_DATES)
        codes = [BASIC_PROFILE_CODE] + [(o.code, o.meaning) for o in options]
        return sorted(codes)

    def _resolve(self, tag: int) -> Action:
        action = self.table.get(tag)
        if action is not None:
            return action
        for pattern in self.patterns:
            if tag & pattern.mask == pattern.value:
                return pattern.action
        group_action = self.repeating_groups.get(tag >> 16)
        if group_action is not None:
            return group_action
        if self.profile.unlisted is Unlisted.REMOVE:
            return Action.REMOVE
        return Action.KEEP

    def effective_rows(self) -> list[EffectiveRow]:
        """Every Table E.1-1 row with the action this profile applies and why."""
        rows = []
        for row in _annex_e.ROWS:
            tag_text, name, kind, basic = row[2], row[1], row[3], row[6]
            if kind == "element":
                tag = _tag_number(tag_text)
                rows.append(
                    EffectiveRow(
                        tag_text,
                        name,
                        basic,
                        self.action_for(tag),
                        self.sources.get(tag, "file meta: written anew"),
                    )
                )
            elif kind == "private":
                action = (
                    Action.REMOVE
                    if self.profile.private.policy is PrivatePolicy.REMOVE
                    else Action.KEEP
                )
                rows.append(
                    EffectiveRow(
                        tag_text, name, basic, action, f"private: {self.profile.private.policy}"
                    )
                )
            else:
                group = int(tag_text[1:3], 16) << 8
                element = tag_text[6:10]
                action = (
                    self.repeating_groups[group]
                    if element == "xxxx"
                    else self.action_for((group << 16) | int(element, 16))
                )
                rows.append(EffectiveRow(tag_text, name, basic, action, "Table E.1-1"))
        listed = {_tag_number(r[2]) for r in _annex_e.ROWS if r[3] == "element"}
        for tag, action in sorted(self.profile.attributes.items()):
            if tag not in listed:
                entry = DicomDictionary.get(tag)
                name = entry[2] if entry else "(not in the data dictionary)"
                rows.append(EffectiveRow(_tag_text(tag), name, "-", action, "profile"))
        return rows


def compile_profile(profile: Profile) -> CompiledProfile:
    """Build the lookup table of ``profile``."""
    patterns = tuple(_compile_pattern(p) for p in profile.patterns)
    table: dict[int, Action] = {}
    sources: dict[int, str] = {}
    repeating: dict[int, Action] = {}

    for tag, vr in _dictionary_vrs().items():
        if vr in _DATE_VRS:
            table[tag] = _date_default(profile)
            sources[tag] = f"DA/DT by VR: dates {profile.dates.policy}"

    for row in _annex_e.ROWS:
        code, source = _row_code(row, profile.options)
        action = _resolve_code(code, in_std_iod=row[5], source=source)
        kind = row[3]
        if kind == "element":
            tag = _tag_number(row[2])
            if tag >> 16 == 0x0002:
                continue  # file meta is written anew, see pipeline
            table[tag] = action
            sources[tag] = source
        elif kind == "repeating_group":
            _add_repeating(
                str(row[2]),
                action=action,
                table=table,
                sources=sources,
                repeating=repeating,
                source=source,
            )

    for tag in list(table):
        for pattern in patterns:
            if tag & pattern.mask == pattern.value:
                table[tag] = pattern.action
                sources[tag] = f"pattern {pattern.text}"
                break
    for tag, action in profile.attributes.items():
        table[tag] = action
        sources[tag] = "profile"
    # Last, so that no attribute or pattern of the profile can undo it: Safe Harbor is a
    # guarantee about the output, not a default.
    if profile.safe_harbor:
        _apply_safe_harbor(profile, table, sources)

    safe = {(int(g, 16), creator, int(e, 16)) for g, creator, e, _vr, _m in _safe_private.ROWS}
    safe |= {(int(s.group, 16), s.creator, int(s.element, 16)) for s in profile.private.safe}
    vrs = _dictionary_vrs()
    return CompiledProfile(
        profile=profile,
        table=table,
        sources=sources,
        repeating_groups=repeating,
        patterns=patterns,
        safe_private=frozenset(safe),
        sequence_tags=frozenset(t for t, vr in vrs.items() if vr == "SQ"),
        age_tags=frozenset(t for t, vr in vrs.items() if vr == "AS"),
    )


def _row_code(row: tuple[object, ...], options: frozenset[Option]) -> tuple[str, str]:
    code = str(row[6])
    source = "Basic Profile"
    best = -1
    for option in options:
        cell = row[_OPTION_INDEX[option]]
        if cell is None:
            continue
        rank = _PRECEDENCE.get(str(cell), 0)
        if rank > best:
            best = rank
            code = str(cell)
            source = option.value
            if option is Option.RETAIN_LONGITUDINAL_MODIFIED_DATES and code == "C":
                code = "SHIFT"
    return code, source


def _resolve_code(code: str, *, in_std_iod: object, source: str) -> Action:
    if code == "SHIFT":
        return Action.SHIFT
    compound = {
        "X/Z": Action.EMPTY if in_std_iod else Action.REMOVE,
        "X/Z/D": Action.EMPTY if in_std_iod else Action.REMOVE,
        "X/D": Action.DUMMY if in_std_iod else Action.REMOVE,
        "Z/D": Action.EMPTY,
        "X/Z/U*": Action.KEEP,
    }
    if code in compound:
        return compound[code]
    return Action.parse(code)


def _date_default(profile: Profile) -> Action:
    return {
        DatePolicy.REMOVE: Action.REMOVE,
        DatePolicy.SHIFT: Action.SHIFT,
        DatePolicy.KEEP: Action.KEEP,
    }[profile.dates.policy]


def _apply_safe_harbor(profile: Profile, table: dict[int, Action], sources: dict[int, str]) -> None:
    """45 CFR 164.514(b)(2): only years of dates, no device serial numbers (ages: see header)."""
    for tag, (vr, _vm, _name, _retired, keyword) in DicomDictionary.items():
        if "SerialNumber" in keyword or keyword == "DeviceUID":
            table[tag] = Action.REMOVE
            sources[tag] = "safe harbor: device identifiers"
        elif vr in _DATE_VRS and table.get(tag, Action.KEEP) in {Action.KEEP, Action.CLEAN}:
            table[tag] = Action.SHIFT
            sources[tag] = "safe harbor: year only"
        elif vr == "TM" and table.get(tag, Action.KEEP) in {
            Action.KEEP,
            Action.CLEAN,
            Action.SHIFT,
        }:
            table[tag] = Action.EMPTY
            sources[tag] = "safe harbor: no times"
    del profile  # the policy itself is read at apply time


def _add_repeating(
    text: str,
    *,
    action: Action,
    table: dict[int, Action],
    sources: dict[int, str],
    repeating: dict[int, Action],
    source: str,
) -> None:
    base = int(text[1:3], 16) << 8
    element = text[6:10]
    for offset in range(0, 0x20, 2):
        group = base + offset
        if element == "xxxx":
            repeating[group] = action
        else:
            tag = (group << 16) | int(element, 16)
            table[tag] = action
            sources[tag] = source


def _compile_pattern(rule: PatternRule) -> _Pattern:
    digits = rule.tag[1:5] + rule.tag[6:10]
    mask = value = 0
    for char in digits:
        mask <<= 4
        value <<= 4
        if char.lower() != "x":
            mask |= 0xF
            value |= int(char, 16)
    return _Pattern(mask, value, rule.action, rule.tag)


def _tag_number(text: str) -> int:
    return int(text[1:5] + text[6:10], 16)


def _tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


_VRS: dict[int, str] = {}


def _dictionary_vrs() -> dict[int, str]:
    if not _VRS:
        _VRS.update({tag: entry[0] for tag, entry in DicomDictionary.items()})
    return _VRS


def dictionary_vr(tag: int) -> str | None:
    """The VR of ``tag`` in pydicom's data dictionary (first of ambiguous ones), or None."""
    vr = _dictionary_vrs().get(tag)
    if vr is None:
        return None
    return vr.split(" or ")[0]
