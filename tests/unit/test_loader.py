"""Loading YAML profiles: errors name the file, the line and the problem; merging works."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from anonymizer.actions import Action, Option
from anonymizer.errors import ProfileInvalid, ProfileNotFound
from anonymizer.profiles import builtin_profile_names, compile_profile, load_profile
from anonymizer.profiles.loader import parse_tag
from anonymizer.profiles.model import DatePolicy, PixelPolicy, PrivatePolicy, Unlisted

BODY_PART_EXAMINED = 0x00180015
STUDY_DESCRIPTION = 0x00081030
PATIENT_SEX = 0x00100040
PATIENT_AGE = 0x00101010
PATIENT_WEIGHT = 0x00101030
PATIENT_BIRTH_DATE = 0x00100030
STUDY_DATE = 0x00080020


def write_profile(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), "utf-8")
    return path


def error_of(path: Path, *, search: tuple[Path, ...] = ()) -> str:
    with pytest.raises(ProfileInvalid) as info:
        load_profile(path, search_path=search)
    return str(info.value)


def assert_names(message: str, path: Path, line: int) -> None:
    assert message.startswith(f"{path}, line {line}: "), message


# -- errors -----------------------------------------------------------------------------


def test_unknown_keyword_names_file_line_and_suggests(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "typo",
        """
        name: typo
        extends: basic
        attributes:
          PatientSex: keep
          PatientNme: keep
        """,
    )
    message = error_of(path)
    assert_names(message, path, 5)
    assert "unknown attribute 'PatientNme'" in message
    assert "did you mean 'PatientName'?" in message


def test_unknown_keyword_without_close_match_has_no_hint(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "nohint",
        """
        name: nohint
        attributes:
          Qqqqqqqqqqqqqqqqqqqqqqq: keep
        """,
    )
    message = error_of(path)
    assert_names(message, path, 3)
    assert "unknown attribute 'Qqqqqqqqqqqqqqqqqqqqqqq'" in message
    assert "did you mean" not in message


def test_unknown_action_names_the_line_of_the_attribute(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "act",
        """
        name: act
        extends: basic

        attributes:
          PatientAge: keep
          PatientSex: obliterate
        """,
    )
    message = error_of(path)
    assert_names(message, path, 6)
    assert "attributes.PatientSex" in message
    assert "unknown action 'obliterate'" in message


def test_unknown_pattern_action(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "patact",
        """
        name: patact
        patterns:
          - tag: "(0019,xxxx)"
            action: shred
        """,
    )
    message = error_of(path)
    assert_names(message, path, 4)
    assert "patterns.0.action" in message
    assert "unknown action 'shred'" in message


def test_bad_tag_pattern(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "pat",
        """
        name: pat
        extends: basic
        patterns:
          - tag: "(0019,xxxx)"
            action: keep
          - tag: "(0009,xxx)"
            action: remove
        """,
    )
    message = error_of(path)
    assert_names(message, path, 6)
    assert "patterns.1.tag" in message
    assert "tag pattern" in message


def test_cycle_in_extends(tmp_path: Path) -> None:
    first = write_profile(tmp_path, "a", "name: a\nextends: b\n")
    second = write_profile(tmp_path, "b", "name: b\ndescription: loops\nextends: a\n")
    message = error_of(first, search=(tmp_path,))
    # b's 'extends' (line 3) closes the loop
    assert_names(message, second, 3)
    assert "cycle in 'extends': a -> b -> a" in message


def test_profile_extending_itself(tmp_path: Path) -> None:
    path = write_profile(tmp_path, "me", "name: me\nextends: me\n")
    message = error_of(path, search=(tmp_path,))
    assert_names(message, path, 2)
    assert "cycle" in message


def test_extends_a_missing_profile(tmp_path: Path) -> None:
    path = write_profile(tmp_path, "orphan", "name: orphan\n\nextends: no-such-profile\n")
    with pytest.raises(ProfileNotFound) as info:
        load_profile(path)
    message = str(info.value)
    assert_names(message, path, 3)
    assert "'no-such-profile'" in message


def test_missing_profile_by_name() -> None:
    with pytest.raises(ProfileNotFound, match="no profile named 'nope'"):
        load_profile("nope")


def test_missing_profile_by_odd_name_is_not_looked_up() -> None:
    with pytest.raises(ProfileNotFound):
        load_profile("../../etc/passwd")


def test_invalid_yaml(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "broken",
        """
        name: broken
        attributes:
          PatientSex: [keep
        """,
    )
    message = error_of(path)
    assert re.match(rf"{re.escape(str(path))}, line \d+: not valid YAML", message), message


def test_not_a_mapping(tmp_path: Path) -> None:
    path = write_profile(tmp_path, "list", "- a\n- b\n")
    message = error_of(path)
    assert_names(message, path, 1)
    assert "mapping" in message


def test_duplicate_key(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "dup",
        """
        name: dup
        extends: basic
        attributes:
          PatientSex: keep
          PatientAge: keep
          PatientSex: remove
        """,
    )
    message = error_of(path)
    assert_names(message, path, 6)
    assert "duplicate key 'PatientSex'" in message


@pytest.mark.parametrize("days", ["[-10, 5]", "[0, 10]", "[-10, 0]"])
def test_shift_days_containing_zero(tmp_path: Path, days: str) -> None:
    path = write_profile(
        tmp_path,
        "zero",
        f"""
        name: zero
        extends: basic
        dates:
          policy: shift
          shift_days: {days}
        """,
    )
    message = error_of(path)
    assert_names(message, path, 5)
    assert "shift_days must not contain 0" in message


def test_shift_days_reversed(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "rev",
        """
        name: rev
        dates:
          policy: shift
          shift_days: [-1, -10]
        """,
    )
    message = error_of(path)
    assert_names(message, path, 4)
    assert "low <= high" in message


@pytest.mark.parametrize(
    ("option", "policy"),
    [
        ("retain_safe_private", "private: {policy: safe}"),
        ("retain_longitudinal_full_dates", "dates: {policy: keep}"),
        ("retain_longitudinal_modified_dates", "dates: {policy: shift}"),
    ],
)
def test_policy_options_cannot_be_listed(tmp_path: Path, option: str, policy: str) -> None:
    path = write_profile(
        tmp_path,
        "opt",
        f"""
        name: opt
        extends: basic
        options:
          - retain_uids
          - {option}
        """,
    )
    message = error_of(path)
    assert_names(message, path, 5)
    assert f"option '{option}' is set by '{policy}'" in message


def test_unknown_option(tmp_path: Path) -> None:
    path = write_profile(tmp_path, "opt", "name: opt\noptions:\n  - retain_everything\n")
    message = error_of(path)
    assert_names(message, path, 3)
    assert "options.0" in message


def test_extra_top_level_key(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "extra",
        """
        name: extra
        extends: basic
        colour: blue
        """,
    )
    message = error_of(path)
    assert_names(message, path, 3)
    assert "colour" in message
    assert "Extra inputs are not permitted" in message


def test_extra_nested_key(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "nested",
        """
        name: nested
        dates:
          policy: shift
          shift_dayz: [-5, -1]
        """,
    )
    message = error_of(path)
    assert_names(message, path, 4)
    assert "dates.shift_dayz" in message


def test_pixel_modalities_policy_needs_a_list(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "pix",
        """
        name: pix
        extends: basic
        pixels:
          policy: modalities
        """,
    )
    message = error_of(path)
    assert_names(message, path, 3)  # the 'pixels:' block that lacks the list
    assert "needs a list of modalities" in message


def test_invalid_profile_name(tmp_path: Path) -> None:
    path = write_profile(tmp_path, "upper", "name: Not A Name\n")
    message = error_of(path)
    assert_names(message, path, 1)
    assert "name" in message


def test_private_safe_entry_must_be_odd_group(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "evenpriv",
        """
        name: evenpriv
        private:
          policy: safe
          safe:
            - {group: "0018", creator: "ACME 1.0", element: "10"}
        """,
    )
    message = error_of(path)
    assert_names(message, path, 5)
    assert "odd" in message


# -- merging and overrides ----------------------------------------------------------------


def test_parse_tag_forms() -> None:
    assert parse_tag("(0010,0010)") == 0x00100010
    assert parse_tag("0010,0010") == 0x00100010
    assert parse_tag("00100010") == 0x00100010
    assert parse_tag("(0010,001)") is None
    assert parse_tag("PatientName") is None


def test_override_by_keyword_and_by_tag(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "over",
        """
        name: over
        extends: basic
        attributes:
          PatientSex: keep
          "(0010,1010)": K
          (0008,1030): remove
        """,
    )
    compiled = compile_profile(load_profile(path))
    basic = compile_profile(load_profile("basic"))
    assert basic.action_for(PATIENT_SEX) is Action.EMPTY
    assert basic.action_for(PATIENT_AGE) is Action.REMOVE
    assert compiled.action_for(PATIENT_SEX) is Action.KEEP
    assert compiled.action_for(PATIENT_AGE) is Action.KEEP
    assert compiled.action_for(STUDY_DESCRIPTION) is Action.REMOVE
    assert compiled.sources[PATIENT_SEX] == "profile"


def test_letters_and_names_are_the_same_action(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "letters",
        """
        name: letters
        attributes:
          PatientSex: X
          PatientAge: z
          PatientWeight: d
        """,
    )
    profile = load_profile(path)
    assert profile.attributes == {
        PATIENT_SEX: Action.REMOVE,
        PATIENT_AGE: Action.EMPTY,
        PATIENT_WEIGHT: Action.DUMMY,
    }


def test_child_overrides_parent(tmp_path: Path) -> None:
    write_profile(
        tmp_path,
        "parent",
        """
        name: parent
        extends: basic
        options: [retain_uids]
        attributes:
          PatientSex: keep
          PatientAge: keep
        dates:
          policy: shift
          shift_days: [-100, -50]
        """,
    )
    child_path = write_profile(
        tmp_path,
        "child",
        """
        name: child
        extends: parent
        options: [clean_descriptors]
        attributes:
          PatientSex: remove
        dates:
          policy: remove
        """,
    )
    child = load_profile(child_path, search_path=(tmp_path,))
    assert child.name == "child"
    assert child.chain == ("child", "parent", "basic")
    assert child.attributes[PATIENT_SEX] is Action.REMOVE
    assert child.attributes[PATIENT_AGE] is Action.KEEP  # inherited
    assert child.dates.policy is DatePolicy.REMOVE
    # options accumulate along the chain
    assert Option.RETAIN_UIDS in child.options
    assert Option.CLEAN_DESCRIPTORS in child.options
    assert Option.RETAIN_LONGITUDINAL_MODIFIED_DATES not in child.options
    parent = load_profile("parent", search_path=(tmp_path,))
    assert parent.dates.shift_days == (-100, -50)
    assert Option.RETAIN_LONGITUDINAL_MODIFIED_DATES in parent.options


def test_patterns_apply_to_private_and_public_groups(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "patterns",
        """
        name: patterns
        extends: basic
        patterns:
          - tag: "(0019,xxxx)"
            action: keep
          - tag: "(0010,xxxx)"
            action: remove
        """,
    )
    compiled = compile_profile(load_profile(path))
    assert compiled.private_action(0x00191023) is Action.KEEP
    assert compiled.private_action(0x00191100) is Action.KEEP
    assert compiled.private_action(0x00211023) is None
    # the pattern overrides Table E.1-1 rows in its group ...
    assert compiled.action_for(PATIENT_SEX) is Action.REMOVE
    assert compiled.action_for(0x00101040) is Action.REMOVE  # PatientAddress: X anyway
    # an attribute named explicitly (here by basic) is more specific than any pattern
    assert compiled.action_for(0x00100010) is Action.PSEUDONYM
    # ... and unlisted tags of that group
    assert compiled.action_for(0x00109431) is Action.REMOVE
    assert compiled.action_for(BODY_PART_EXAMINED) is Action.KEEP


def test_child_pattern_is_tried_before_parent_pattern(tmp_path: Path) -> None:
    write_profile(
        tmp_path,
        "ppat",
        """
        name: ppat
        patterns:
          - tag: "(0019,xxxx)"
            action: remove
        """,
    )
    path = write_profile(
        tmp_path,
        "cpat",
        """
        name: cpat
        extends: ppat
        patterns:
          - tag: "(0019,10xx)"
            action: keep
        """,
    )
    compiled = compile_profile(load_profile(path, search_path=(tmp_path,)))
    assert compiled.private_action(0x00191023) is Action.KEEP
    assert compiled.private_action(0x00191123) is Action.REMOVE


def test_unlisted_remove_removes_unknown_public_tags(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        "only",
        """
        name: only
        extends: basic
        unlisted: remove
        attributes:
          Rows: keep
        """,
    )
    compiled = compile_profile(load_profile(path))
    keep = compile_profile(load_profile("basic"))
    assert keep.action_for(BODY_PART_EXAMINED) is Action.KEEP
    assert compiled.action_for(BODY_PART_EXAMINED) is Action.REMOVE
    assert compiled.action_for(0x00280010) is Action.KEEP
    # a tag no dictionary knows
    assert keep.action_for(0x00221234) is Action.KEEP
    assert compiled.action_for(0x00221234) is Action.REMOVE
    assert load_profile(path).unlisted is Unlisted.REMOVE


def test_profile_found_on_search_path_by_name(tmp_path: Path) -> None:
    write_profile(tmp_path, "site", "name: site\nextends: research\n")
    profile = load_profile("site", search_path=(tmp_path,))
    assert profile.chain == ("site", "research", "basic")
    assert profile.private.policy is PrivatePolicy.SAFE


def test_defaults_of_a_bare_profile(tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path, "bare", "name: bare\n"))
    assert profile.options == frozenset()
    assert profile.dates.policy is DatePolicy.REMOVE
    assert profile.private.policy is PrivatePolicy.REMOVE
    assert profile.pixels.policy is PixelPolicy.NEVER
    assert profile.unlisted is Unlisted.KEEP
    assert profile.safe_harbor is False
    assert profile.edition == "2026d"


def test_builtin_names() -> None:
    assert builtin_profile_names() == ["ai-upload", "basic", "keep-list", "research"]


def test_date_tags_follow_policy(tmp_path: Path) -> None:
    shift = compile_profile(
        load_profile(
            write_profile(
                tmp_path, "sh", "name: sh\ndates:\n  policy: shift\n  shift_days: [-9, -1]\n"
            )
        )
    )
    keep = compile_profile(
        load_profile(write_profile(tmp_path, "kp", "name: kp\ndates:\n  policy: keep\n"))
    )
    assert shift.action_for(STUDY_DATE) is Action.SHIFT
    assert keep.action_for(STUDY_DATE) is Action.KEEP
    # PatientBirthDate has no option column: Z whatever the date policy
    assert shift.action_for(PATIENT_BIRTH_DATE) is Action.EMPTY
    assert keep.action_for(PATIENT_BIRTH_DATE) is Action.EMPTY
