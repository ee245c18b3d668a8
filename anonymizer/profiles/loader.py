"""Find, parse and validate YAML profiles, resolve ``extends``, and merge them.

Errors name the file, the line and the problem (never an element value)::

    profiles/site.yaml, line 7: unknown attribute 'PatientNme' (did you mean 'PatientName'?)
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydicom.datadict import keyword_dict

from anonymizer.actions import Action, Option
from anonymizer.errors import ProfileInvalid, ProfileNotFound
from anonymizer.profiles.model import (
    DatePolicy,
    DateSettings,
    PatternRule,
    PixelPolicy,
    PixelSettings,
    PrivatePolicy,
    PrivateSettings,
    ProfileSpec,
    Unlisted,
)
from anonymizer.profiles.report_settings import ReportSettings

_TAG = re.compile(r"^\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?$")
_BUILTIN_PACKAGE = "anonymizer.builtin_profiles"


@dataclass(frozen=True)
class Profile:
    """A profile with ``extends`` resolved: what the compiler needs, nothing more."""

    name: str
    description: str
    version: int
    edition: str
    chain: tuple[str, ...]
    options: frozenset[Option]
    unlisted: Unlisted
    attributes: dict[int, Action] = field(hash=False)
    patterns: tuple[PatternRule, ...]
    private: PrivateSettings
    dates: DateSettings
    pixels: PixelSettings
    reports: ReportSettings
    safe_harbor: bool


def parse_tag(text: str) -> int | None:
    """Return the tag number of ``(gggg,eeee)``, ``gggg,eeee`` or ``ggggeeee``, else None."""
    match = _TAG.match(text.strip())
    if not match:
        return None
    return int(match.group(1) + match.group(2), 16)


def builtin_profile_names() -> list[str]:
    """Names of the profiles shipped with the package."""
    folder = resources.files(_BUILTIN_PACKAGE)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_profile(name_or_path: str | Path, *, search_path: tuple[Path, ...] = ()) -> Profile:
    """Load a profile by name (shipped or on ``search_path``) or by file path.

    Raises
    ------
    ProfileNotFound
        No such profile.
    ProfileInvalid
        The profile, or one it extends, is invalid; the message names file and line.
    """
    specs: list[ProfileSpec] = []
    seen: list[str] = []
    source, text = _read_source(name_or_path, search_path)
    spec, lines = _parse(source, text)
    while True:
        seen.append(spec.name)
        specs.append(spec)
        if spec.extends is None:
            return _merge(specs)
        # Errors about the parent name the child's file and its 'extends' line.
        where = f"{source}, line {lines.get(('extends',), 1)}"
        try:
            source, text = _read_source(spec.extends, search_path)
        except ProfileNotFound as exc:
            raise ProfileNotFound(f"{where}: extends: {exc}") from None
        spec, lines = _parse(source, text)
        if spec.name in seen:
            cycle = " -> ".join([*seen, spec.name])
            raise ProfileInvalid(f"{where}: cycle in 'extends': {cycle}")


def _read_source(name: str | Path, search_path: tuple[Path, ...]) -> tuple[str, str]:
    path = Path(name)
    if path.suffix in {".yaml", ".yml"} and path.is_file():
        return str(path), path.read_text("utf-8")
    text_name = str(name)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", text_name):
        raise ProfileNotFound(f"no profile file {text_name!r}")
    for folder in search_path:
        candidate = folder / f"{text_name}.yaml"
        if candidate.is_file():
            return str(candidate), candidate.read_text("utf-8")
    builtin = resources.files(_BUILTIN_PACKAGE) / f"{text_name}.yaml"
    if builtin.is_file():
        return f"profiles/{text_name}.yaml", builtin.read_text("utf-8")
    known = ", ".join(builtin_profile_names())
    raise ProfileNotFound(f"no profile named {text_name!r} (shipped profiles: {known})")


def _parse(source: str, text: str) -> tuple[ProfileSpec, dict[tuple[str | int, ...], int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ProfileInvalid(f"{source}{line}: not valid YAML") from None
    if node is None or not isinstance(node, yaml.MappingNode):
        raise ProfileInvalid(f"{source}, line 1: a profile is a mapping of settings")
    lines: dict[tuple[str | int, ...], int] = {}
    try:
        data = _to_python(node, (), lines)
    except _DuplicateKey as exc:
        raise ProfileInvalid(f"{source}, line {exc.line}: duplicate key {exc.key!r}") from None
    try:
        spec = ProfileSpec.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        line_no = _line_for(loc, lines)
        where = ".".join(str(p) for p in loc) or "profile"
        raise ProfileInvalid(f"{source}, line {line_no}: {where}: {error['msg']}") from None
    _check_attributes(source, spec, lines)
    return spec, lines


class _DuplicateKey(Exception):
    """A mapping repeats a key (YAML would silently keep the last one)."""

    def __init__(self, key: str, line: int) -> None:
        super().__init__(key)
        self.key = key
        self.line = line


def _to_python(
    node: yaml.Node, path: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(yaml.safe_load(yaml.serialize(key_node)))
            if key in out:
                raise _DuplicateKey(key, key_node.start_mark.line + 1)
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _to_python(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def _line_for(loc: tuple[Any, ...], lines: dict[tuple[str | int, ...], int]) -> int:
    for end in range(len(loc), -1, -1):
        key = tuple(loc[:end])
        if key in lines:
            return lines[key]
    return 1


def _check_attributes(
    source: str, spec: ProfileSpec, lines: dict[tuple[str | int, ...], int]
) -> None:
    for key in spec.attributes:
        if parse_tag(key) is None and key not in keyword_dict:
            line = lines.get(("attributes", key), 1)
            close = difflib.get_close_matches(key, keyword_dict.keys(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ProfileInvalid(
                f"{source}, line {line}: unknown attribute {key!r}{hint}; "
                "use a DICOM keyword or a tag such as (0010,0010)"
            )


def attribute_tag(key: str) -> int:
    """The tag number of an attribute key already checked by the loader."""
    tag = parse_tag(key)
    return tag if tag is not None else keyword_dict[key]


def _merge(specs: list[ProfileSpec]) -> Profile:
    """Merge from the root of the ``extends`` chain down: later profiles override earlier."""
    options: set[Option] = set()
    attributes: dict[int, Action] = {}
    patterns: list[PatternRule] = []
    unlisted = Unlisted.KEEP
    private = PrivateSettings(policy=PrivatePolicy.REMOVE)
    dates = DateSettings(policy=DatePolicy.REMOVE)
    pixels = PixelSettings(policy=PixelPolicy.NEVER)
    reports = ReportSettings()
    safe_harbor = False
    for spec in reversed(specs):
        options.update(spec.options)
        attributes.update({attribute_tag(k): v for k, v in spec.attributes.items()})
        # A child's patterns are tried before its parent's.
        patterns[:0] = list(spec.patterns)
        unlisted = spec.unlisted or unlisted
        private = spec.private or private
        dates = spec.dates or dates
        pixels = spec.pixels or pixels
        reports = spec.reports or reports
        safe_harbor = spec.safe_harbor if spec.safe_harbor is not None else safe_harbor
    if private.policy is PrivatePolicy.SAFE:
        options.add(Option.RETAIN_SAFE_PRIVATE)
    if dates.policy is DatePolicy.SHIFT:
        options.add(Option.RETAIN_LONGITUDINAL_MODIFIED_DATES)
    elif dates.policy is DatePolicy.KEEP:
        options.add(Option.RETAIN_LONGITUDINAL_FULL_DATES)
    top = specs[0]
    return Profile(
        name=top.name,
        description=top.description,
        version=top.version,
        edition=top.edition,
        chain=tuple(s.name for s in specs),
        options=frozenset(options),
        unlisted=unlisted,
        attributes=attributes,
        patterns=tuple(patterns),
        private=private,
        dates=dates,
        pixels=pixels,
        reports=reports,
        safe_harbor=safe_harbor,
    )
