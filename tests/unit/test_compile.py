"""Compiling profiles: Table E.1-1 option columns, compound codes, precedence, unknown rows."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom._dicom_dict import DicomDictionary
from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ImplicitVRLittleEndian

from anonymizer import Anonymizer, PseudonymKey
from anonymizer.actions import BASIC_PROFILE_CODE, Action, Option
from anonymizer.data import _annex_e
from anonymizer.profiles import CompiledProfile, compile_profile, load_profile
from anonymizer.profiles.compile import _resolve_code

# The 26 element rows added to Table E.1-1 after 2024b that pydicom 3.0.2 does not know
# (reference README, "Rows added to Table E.1-1 after 2024b").
UNKNOWN_TO_PYDICOM = (
    0x00081301,
    0x00081302,
    0x00081303,
    0x00081304,
    0x00100011,
    0x00100012,
    0x00100013,
    0x00100014,
    0x00100015,
    0x00100016,
    0x00100041,
    0x00100042,
    0x00100043,
    0x00100044,
    0x00100045,
    0x00100046,
    0x00100047,
    0x00102162,
    0x0040A034,
    0x0040A035,
    0x0040B034,
    0x0040B036,
    0x0040B03B,
    0x0040B03F,
    0x0040E012,
    0x3004007F,
)

OPTION_COLUMN = {Option(name): 7 + i for i, name in enumerate(_annex_e.OPTION_COLUMNS)}
# Options given by a policy rather than by the 'options' list.
POLICY_YAML = {
    Option.RETAIN_SAFE_PRIVATE: "private:\n  policy: safe\n",
    Option.RETAIN_LONGITUDINAL_FULL_DATES: "dates:\n  policy: keep\n",
    Option.RETAIN_LONGITUDINAL_MODIFIED_DATES: "dates:\n  policy: shift\n",
}


def kw(keyword: str) -> int:
    tag = tag_for_keyword(keyword)
    assert tag is not None, keyword
    return int(tag)


def tag_number(text: str) -> int:
    return int(text[1:5] + text[6:10], 16)


def profile_text(options: tuple[Option, ...], *, extends: str | None) -> str:
    listed = [o for o in options if o not in POLICY_YAML]
    lines = ["name: probe"]
    if extends:
        lines.append(f"extends: {extends}")
    if listed:
        lines.append("options:")
        lines.extend(f"  - {o.value}" for o in listed)
    text = "\n".join(lines) + "\n"
    for option in options:
        text += POLICY_YAML.get(option, "")
    return text


_CACHE: dict[tuple[tuple[Option, ...], str | None], CompiledProfile] = {}


def compiled_with(
    tmp_path_factory: pytest.TempPathFactory,
    *options: Option,
    extends: str | None = "basic",
) -> CompiledProfile:
    key = (tuple(sorted(options)), extends)
    if key not in _CACHE:
        folder = tmp_path_factory.mktemp("profiles")
        path = folder / "probe.yaml"
        path.write_text(profile_text(key[0], extends=extends), "utf-8")
        _CACHE[key] = compile_profile(load_profile(path))
    return _CACHE[key]


@pytest.fixture(scope="module")
def basic() -> CompiledProfile:
    return compile_profile(load_profile("basic"))


# -- option columns, spot checks ---------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "keyword", "basic_action", "option_action"),
    [
        (Option.RETAIN_UIDS, "StudyInstanceUID", Action.UID, Action.KEEP),
        (Option.RETAIN_UIDS, "SOPInstanceUID", Action.UID, Action.KEEP),
        (Option.RETAIN_DEVICE_IDENTITY, "DeviceSerialNumber", Action.EMPTY, Action.KEEP),
        (Option.RETAIN_DEVICE_IDENTITY, "StationName", Action.EMPTY, Action.KEEP),
        (Option.RETAIN_DEVICE_IDENTITY, "StationAETitle", Action.REMOVE, Action.CLEAN),
        (Option.RETAIN_INSTITUTION_IDENTITY, "InstitutionName", Action.EMPTY, Action.KEEP),
        (Option.RETAIN_INSTITUTION_IDENTITY, "InstitutionAddress", Action.REMOVE, Action.KEEP),
        (Option.RETAIN_PATIENT_CHARACTERISTICS, "PatientSex", Action.EMPTY, Action.KEEP),
        (Option.RETAIN_PATIENT_CHARACTERISTICS, "PatientAge", Action.REMOVE, Action.KEEP),
        (Option.RETAIN_PATIENT_CHARACTERISTICS, "Allergies", Action.REMOVE, Action.CLEAN),
        (
            Option.RETAIN_LONGITUDINAL_MODIFIED_DATES,
            "AcquisitionDate",
            Action.EMPTY,
            Action.SHIFT,
        ),
        (Option.RETAIN_LONGITUDINAL_MODIFIED_DATES, "StudyDate", Action.EMPTY, Action.SHIFT),
        (
            Option.RETAIN_LONGITUDINAL_MODIFIED_DATES,
            "AcquisitionDateTime",
            Action.EMPTY,
            Action.SHIFT,
        ),
        (Option.RETAIN_LONGITUDINAL_FULL_DATES, "AcquisitionDate", Action.EMPTY, Action.KEEP),
        (Option.RETAIN_LONGITUDINAL_FULL_DATES, "StudyDate", Action.EMPTY, Action.KEEP),
        (Option.CLEAN_DESCRIPTORS, "StudyDescription", Action.REMOVE, Action.CLEAN),
        (Option.CLEAN_DESCRIPTORS, "SeriesDescription", Action.REMOVE, Action.CLEAN),
        (Option.CLEAN_STRUCTURED_CONTENT, "ContentSequence", Action.DUMMY, Action.CLEAN),
        (Option.CLEAN_STRUCTURED_CONTENT, "AcquisitionContextSequence", Action.EMPTY, Action.CLEAN),
    ],
)
def test_option_column_spot_checks(
    tmp_path_factory: pytest.TempPathFactory,
    basic: CompiledProfile,
    option: Option,
    keyword: str,
    basic_action: Action,
    option_action: Action,
) -> None:
    tag = kw(keyword)
    assert basic.action_for(tag) is basic_action
    compiled = compiled_with(tmp_path_factory, option)
    assert compiled.action_for(tag) is option_action
    assert compiled.sources[tag] == option.value


def test_patient_name_and_id_are_pseudonyms_in_basic(basic: CompiledProfile) -> None:
    assert basic.action_for(kw("PatientName")) is Action.PSEUDONYM
    assert basic.action_for(kw("PatientID")) is Action.PSEUDONYM
    assert basic.action_for(kw("PatientBirthDate")) is Action.EMPTY
    assert basic.action_for(kw("AccessionNumber")) is Action.EMPTY
    assert basic.action_for(kw("SOPClassUID")) is Action.KEEP  # not in Table E.1-1


@pytest.mark.parametrize("group", [0x6000, 0x6002, 0x601E])
def test_overlay_data_clean_graphics(
    tmp_path_factory: pytest.TempPathFactory, basic: CompiledProfile, group: int
) -> None:
    overlay_data = (group << 16) | 0x3000
    overlay_comments = (group << 16) | 0x4000
    graphics = compiled_with(tmp_path_factory, Option.CLEAN_GRAPHICS)
    assert basic.action_for(overlay_data) is Action.REMOVE
    assert basic.action_for(overlay_comments) is Action.REMOVE
    assert graphics.action_for(overlay_data) is Action.CLEAN
    assert graphics.action_for(overlay_comments) is Action.CLEAN
    # other overlay elements are not in the table (the header drops orphans)
    assert basic.action_for((group << 16) | 0x0010) is Action.KEEP


def test_overlay_pattern_stops_at_601e(basic: CompiledProfile) -> None:
    # 60xx covers even groups 6000-601E only
    assert basic.action_for(0x60203000) is Action.KEEP


@pytest.mark.parametrize("tag", [0x50000000, 0x50000010, 0x50003000, 0x50100000, 0x501E0110])
def test_curve_data(
    tmp_path_factory: pytest.TempPathFactory, basic: CompiledProfile, tag: int
) -> None:
    assert basic.action_for(tag) is Action.REMOVE
    assert compiled_with(tmp_path_factory, Option.CLEAN_GRAPHICS).action_for(tag) is Action.CLEAN


def test_curve_pattern_stops_at_501e(basic: CompiledProfile) -> None:
    assert basic.action_for(0x50200010) is Action.KEEP


# -- every row, every option ----------------------------------------------------------------


def expected_basic(code: str, *, in_std_iod: bool) -> Action:
    """Compound codes as compile.py's docstring documents them."""
    compound = {
        "X/Z": Action.EMPTY if in_std_iod else Action.REMOVE,
        "X/Z/D": Action.EMPTY if in_std_iod else Action.REMOVE,
        "X/D": Action.DUMMY if in_std_iod else Action.REMOVE,
        "Z/D": Action.EMPTY,
        "X/Z/U*": Action.KEEP,
    }
    letters = {
        "X": Action.REMOVE,
        "Z": Action.EMPTY,
        "D": Action.DUMMY,
        "K": Action.KEEP,
        "C": Action.CLEAN,
        "U": Action.UID,
    }
    return compound.get(code) or letters[code]


ELEMENT_ROWS = [r for r in _annex_e.ROWS if r[3] == "element" and not r[2].startswith("(0002,")]


@pytest.mark.parametrize(
    "option", [o for o in Option if o is not Option.RETAIN_SAFE_PRIVATE] + [None]
)
def test_every_element_row_under_each_single_option(
    tmp_path_factory: pytest.TempPathFactory, option: Option | None
) -> None:
    # No 'extends', so basic.yaml's own attribute overrides do not interfere.
    options = (option,) if option else ()
    compiled = compiled_with(tmp_path_factory, *options, extends=None)
    wrong = []
    for row in ELEMENT_ROWS:
        cell = row[OPTION_COLUMN[option]] if option else None
        if cell is None:
            expected = expected_basic(str(row[6]), in_std_iod=bool(row[5]))
        elif cell == "C" and option is Option.RETAIN_LONGITUDINAL_MODIFIED_DATES:
            expected = Action.SHIFT
        else:
            expected = expected_basic(str(cell), in_std_iod=bool(row[5]))
        actual = compiled.action_for(tag_number(str(row[2])))
        if actual is not expected:
            wrong.append((row[2], row[6], cell, actual, expected))
    assert not wrong
    assert len(ELEMENT_ROWS) > 600


@pytest.mark.parametrize(
    ("code", "examples"),
    [
        ("X/Z", ["AcquisitionDate", "AcquisitionTime", "AcquisitionContextSequence"]),
        ("X/Z/D", ["AcquisitionDateTime", "DeviceSerialNumber", "InstitutionName"]),
        ("X/D", ["AcquisitionDeviceProcessingDescription", "ProtocolName", "SeriesDate"]),
        ("Z/D", ["ContentDate", "ContentTime", "ContrastBolusAgent", "PatientID"]),
        ("X/Z/U*", ["ReferencedImageSequence", "SourceImageSequence"]),
    ],
)
def test_compound_codes_resolve_as_documented(
    tmp_path_factory: pytest.TempPathFactory, code: str, examples: list[str]
) -> None:
    compiled = compiled_with(tmp_path_factory, extends=None)
    by_tag = {tag_number(str(r[2])): r for r in ELEMENT_ROWS}
    documented = {
        "X/Z": Action.EMPTY,
        "X/Z/D": Action.EMPTY,
        "X/D": Action.DUMMY,
        "Z/D": Action.EMPTY,
        "X/Z/U*": Action.KEEP,
    }
    for keyword in examples:
        row = by_tag[kw(keyword)]
        assert row[6] == code, keyword
        assert row[5] is True, keyword  # all compound rows are in a standard IOD
        assert compiled.action_for(kw(keyword)) is documented[code], keyword


@pytest.mark.parametrize(
    ("code", "in_std", "not_in_std"),
    [
        ("X/Z", Action.EMPTY, Action.REMOVE),
        ("X/Z/D", Action.EMPTY, Action.REMOVE),
        ("X/D", Action.DUMMY, Action.REMOVE),
        ("Z/D", Action.EMPTY, Action.EMPTY),
        ("X/Z/U*", Action.KEEP, Action.KEEP),
        ("X", Action.REMOVE, Action.REMOVE),
        ("SHIFT", Action.SHIFT, Action.SHIFT),
    ],
)
def test_resolve_code_uses_the_in_standard_iod_column(
    code: str, in_std: Action, not_in_std: Action
) -> None:
    assert _resolve_code(code, in_std_iod=True, source="t") is in_std
    assert _resolve_code(code, in_std_iod=False, source="t") is not_in_std


def test_keep_beats_clean_when_two_options_apply(tmp_path_factory: pytest.TempPathFactory) -> None:
    calibration = kw("DateOfLastCalibration")  # Device Id. K, Modified Dates C
    shifted = compiled_with(tmp_path_factory, Option.RETAIN_LONGITUDINAL_MODIFIED_DATES)
    both = compiled_with(
        tmp_path_factory,
        Option.RETAIN_LONGITUDINAL_MODIFIED_DATES,
        Option.RETAIN_DEVICE_IDENTITY,
    )
    assert shifted.action_for(calibration) is Action.SHIFT
    assert both.action_for(calibration) is Action.KEEP
    assert both.sources[calibration] == Option.RETAIN_DEVICE_IDENTITY.value


def test_clean_from_either_option(tmp_path_factory: pytest.TempPathFactory) -> None:
    allergies = kw("Allergies")  # Patient Chars. C and Clean Descriptors C
    compiled = compiled_with(
        tmp_path_factory, Option.RETAIN_PATIENT_CHARACTERISTICS, Option.CLEAN_DESCRIPTORS
    )
    assert compiled.action_for(allergies) is Action.CLEAN


def test_unlisted_dates_follow_the_date_policy(tmp_path_factory: pytest.TempPathFactory) -> None:
    study_update = 0x0008041F  # Study Update DateTime: DT, not in Table E.1-1
    assert DicomDictionary[study_update][0] == "DT"
    assert not any(tag_number(str(r[2])) == study_update for r in ELEMENT_ROWS)
    assert compiled_with(tmp_path_factory).action_for(study_update) is Action.REMOVE
    shifted = compiled_with(tmp_path_factory, Option.RETAIN_LONGITUDINAL_MODIFIED_DATES)
    assert shifted.action_for(study_update) is Action.SHIFT
    full = compiled_with(tmp_path_factory, Option.RETAIN_LONGITUDINAL_FULL_DATES)
    assert full.action_for(study_update) is Action.KEEP


# -- option codes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        (),
        (Option.RETAIN_UIDS,),
        (Option.CLEAN_GRAPHICS, Option.RETAIN_SAFE_PRIVATE),
        (Option.RETAIN_LONGITUDINAL_MODIFIED_DATES, Option.CLEAN_DESCRIPTORS),
        (Option.RETAIN_LONGITUDINAL_FULL_DATES, Option.RETAIN_INSTITUTION_IDENTITY),
        tuple(o for o in Option if o is not Option.RETAIN_LONGITUDINAL_FULL_DATES),
    ],
)
def test_option_codes_are_basic_plus_options_in_force(
    tmp_path_factory: pytest.TempPathFactory, options: tuple[Option, ...]
) -> None:
    compiled = compiled_with(tmp_path_factory, *options)
    codes = compiled.option_codes()
    assert codes[0] == BASIC_PROFILE_CODE
    assert BASIC_PROFILE_CODE == ("113100", "Basic Application Confidentiality Profile")
    assert sorted(c for c, _ in codes[1:]) == sorted(o.code for o in options)
    assert codes == sorted(codes)
    assert len({c for c, _ in codes}) == len(codes)


def test_option_codes_are_cid_7050() -> None:
    assert {o: o.code for o in Option} == {
        Option.CLEAN_GRAPHICS: "113103",
        Option.CLEAN_STRUCTURED_CONTENT: "113104",
        Option.CLEAN_DESCRIPTORS: "113105",
        Option.RETAIN_LONGITUDINAL_FULL_DATES: "113106",
        Option.RETAIN_LONGITUDINAL_MODIFIED_DATES: "113107",
        Option.RETAIN_PATIENT_CHARACTERISTICS: "113108",
        Option.RETAIN_DEVICE_IDENTITY: "113109",
        Option.RETAIN_UIDS: "113110",
        Option.RETAIN_SAFE_PRIVATE: "113111",
        Option.RETAIN_INSTITUTION_IDENTITY: "113112",
    }


# -- effective rows ---------------------------------------------------------------------


def test_effective_rows_cover_the_table_and_profile_extras(tmp_path: Path) -> None:
    path = tmp_path / "extra.yaml"
    path.write_text(
        textwrap.dedent(
            """
            name: extra
            extends: basic
            attributes:
              BodyPartExamined: remove
              PatientSex: keep
            """
        ),
        "utf-8",
    )
    rows = compile_profile(load_profile(path)).effective_rows()
    by_tag = {r.tag: r for r in rows}
    assert len(rows) == len(_annex_e.ROWS) + 1  # BodyPartExamined is not in the table
    assert by_tag["(0018,0015)"].action is Action.REMOVE
    assert by_tag["(0018,0015)"].source == "profile"
    assert by_tag["(0010,0040)"].action is Action.KEEP
    assert by_tag["(0010,0040)"].basic == "Z"
    assert by_tag["(gggg,eeee) where gggg is odd"].action is Action.REMOVE
    assert by_tag["(60xx,3000)"].action is Action.REMOVE


# -- the 26 rows pydicom 3.0.2 does not know ---------------------------------------------


def test_unknown_rows_are_the_ones_pydicom_lacks() -> None:
    rows = {tag_number(str(r[2])) for r in ELEMENT_ROWS}
    assert len(UNKNOWN_TO_PYDICOM) == 26
    for tag in UNKNOWN_TO_PYDICOM:
        assert tag in rows, hex(tag)
        assert tag not in DicomDictionary, hex(tag)
    known_added = (0x00102161, 0x00181010, 0x0040B020, 0x300A0054)
    assert all(t in DicomDictionary for t in known_added)


@pytest.mark.parametrize("tag", UNKNOWN_TO_PYDICOM, ids=lambda t: f"{t:08X}")
def test_unknown_rows_are_not_kept(basic: CompiledProfile, tag: int) -> None:
    assert basic.action_for(tag) is not Action.KEEP
    assert basic.action_for(tag) is Action.REMOVE  # every one is X in the Basic Profile


FAKE = {
    0x00100012: ("LO", "ZZNAMETOUSE^FAKE"),
    0x00100013: ("LT", "ZZNAMECOMMENT FAKE TEXT"),
    0x00100016: ("LT", "ZZPRONOUNCOMMENT FAKE"),
    0x00100045: ("LT", "ZZGENDERCOMMENT FAKE"),
    0x0040B03B: ("LO", "ZZMONTAGENAME FAKE"),
    0x0040A034: ("DT", "20011231235959"),
    0x3004007F: ("LO", "ZZDOSEMODEL FAKE"),
}


def implicit_file_with_unknown_tags() -> bytes:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1001"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1002"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.1003"
    ds.Modality = "OT"
    ds.PatientID = "FAKE-0001"
    ds.PatientName = "Fakeperson^Testy"
    for tag, (vr, value) in FAKE.items():
        ds[tag] = DataElement(tag, vr, value)
    item = Dataset()
    item.CodeValue = "ZZCODE01"
    item.CodingSchemeDesignator = "99FAKE"
    item.CodeMeaning = "ZZFAKEDIAGNOSIS"
    ds[0x00081301] = DataElement(0x00081301, "SQ", Sequence([item]))
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_unknown_rows_removed_end_to_end() -> None:
    data = implicit_file_with_unknown_tags()
    tags = [*FAKE, 0x00081301]
    # Precondition: pydicom reads them without VR or keyword, as the README warns.
    parsed = dcmread(io.BytesIO(data))
    for tag in tags:
        raw = parsed.get_item(tag)
        assert raw is not None
        assert raw.VR is None
        assert keyword_for_tag(tag) == ""
    for _vr, value in FAKE.values():
        assert value.encode("ascii") in data
    out = io.BytesIO()
    Anonymizer(profile="basic", key=PseudonymKey.throwaway()).anonymize(data, out)
    result = out.getvalue()
    anonymized = dcmread(io.BytesIO(result))
    for tag in tags:
        assert tag not in anonymized, f"{tag:08X}"
    for _vr, value in FAKE.values():
        assert value.encode("ascii") not in result
    assert b"ZZFAKEDIAGNOSIS" not in result
    assert b"ZZCODE01" not in result
    assert anonymized.Modality == "OT"  # the object itself survived


# -- Safe Harbor ----------------------------------------------------------------------------


HARBOR_PROFILE = """
name: {name}
extends: research
safe_harbor: {harbor}
attributes:
  DeviceSerialNumber: keep
  StudyDate: keep
  StudyTime: keep
patterns:
  - tag: "(0018,1xxx)"
    action: keep
"""


def test_safe_harbor_wins_over_the_profiles_own_attributes(tmp_path: Path) -> None:
    harbor_path = tmp_path / "harbor.yaml"
    harbor_path.write_text(HARBOR_PROFILE.format(name="harbor", harbor="true"), "utf-8")
    plain_path = tmp_path / "plain.yaml"
    plain_path.write_text(HARBOR_PROFILE.format(name="plain", harbor="false"), "utf-8")
    harbor = compile_profile(load_profile(harbor_path))
    plain = compile_profile(load_profile(plain_path))
    assert plain.action_for(kw("DeviceSerialNumber")) is Action.KEEP
    assert plain.action_for(kw("StudyTime")) is Action.KEEP
    assert plain.action_for(kw("DateOfLastCalibration")) is Action.KEEP  # the pattern
    assert harbor.action_for(kw("DeviceSerialNumber")) is Action.REMOVE
    assert harbor.action_for(kw("StudyDate")) is Action.SHIFT  # the year only, at apply time
    assert harbor.action_for(kw("StudyTime")) is Action.EMPTY
    assert harbor.action_for(kw("DateOfLastCalibration")) is Action.SHIFT  # (0018,1200)
    assert harbor.action_for(kw("PatientName")) is Action.PSEUDONYM
