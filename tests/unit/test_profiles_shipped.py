"""The shipped profiles, and Retain Safe Private (Table E.3.10-1) end to end."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset

from anonymizer import Anonymizer, PseudonymKey
from anonymizer.actions import Action, Option
from anonymizer.profiles import (
    CompiledProfile,
    builtin_profile_names,
    compile_profile,
    load_profile,
)
from anonymizer.profiles.model import DatePolicy, PixelPolicy, PrivatePolicy, Unlisted

PROFILES = Path(__file__).resolve().parents[2] / "profiles"

# CT_small.dcm's private elements on the Table E.3.10-1 list (reference sample-data.md).
CT_SMALL_SAFE = {
    0x00191023: "GEMS_ACQU_01",
    0x00191024: "GEMS_ACQU_01",
    0x00191027: "GEMS_ACQU_01",
    0x00251007: "GEMS_SERS_01",
    0x00431027: "GEMS_PARM_01",
}
CT_SMALL_CREATORS = {0x00190010, 0x00250010, 0x00430010}


def kw(keyword: str) -> int:
    tag = tag_for_keyword(keyword)
    assert tag is not None, keyword
    return int(tag)


@pytest.fixture(scope="module")
def compiled() -> dict[str, CompiledProfile]:
    return {name: compile_profile(load_profile(name)) for name in builtin_profile_names()}


@pytest.fixture(scope="module")
def ct_small() -> str:
    path = get_testdata_file("CT_small.dcm")
    assert path is not None
    return str(path)


def anonymize(source: str | bytes, profile: str) -> tuple[bytes, Dataset]:
    out = io.BytesIO()
    Anonymizer(profile=profile, key=PseudonymKey.throwaway()).anonymize(source, out)
    data = out.getvalue()
    return data, dcmread(io.BytesIO(data))


def private_tags(ds: Dataset) -> set[int]:
    return {int(e.tag) for e in ds.iterall() if e.tag.is_private}


# -- every shipped profile ------------------------------------------------------------------


def test_four_profiles_are_shipped() -> None:
    assert builtin_profile_names() == ["ai-upload", "basic", "keep-list", "research"]
    assert sorted(p.stem for p in PROFILES.glob("*.yaml")) == builtin_profile_names()


@pytest.mark.parametrize("name", ["ai-upload", "basic", "keep-list", "research"])
def test_shipped_profile_loads_and_states_version_and_edition(
    compiled: dict[str, CompiledProfile], name: str
) -> None:
    raw = yaml.safe_load((PROFILES / f"{name}.yaml").read_text("utf-8"))
    # STYLE.md: each states its version and PS3.15 edition
    assert raw["version"] >= 1
    assert raw["edition"] == "2026d"
    assert raw["name"] == name
    profile = compiled[name].profile
    assert profile.name == name
    assert profile.chain[-1] == "basic"
    assert profile.description
    # identity never survives any shipped profile
    assert compiled[name].action_for(kw("PatientName")) is Action.PSEUDONYM
    assert compiled[name].action_for(kw("PatientID")) is Action.PSEUDONYM
    assert compiled[name].action_for(kw("PatientAddress")) is Action.REMOVE
    assert compiled[name].action_for(kw("StudyInstanceUID")) is Action.UID


def test_basic(compiled: dict[str, CompiledProfile]) -> None:
    basic = compiled["basic"]
    assert basic.profile.options == frozenset()
    assert basic.profile.dates.policy is DatePolicy.REMOVE
    assert basic.profile.private.policy is PrivatePolicy.REMOVE
    assert basic.profile.pixels.policy is PixelPolicy.NEVER
    assert [c for c, _ in basic.option_codes()] == ["113100"]


def test_research(compiled: dict[str, CompiledProfile]) -> None:
    research = compiled["research"]
    profile = research.profile
    assert profile.chain == ("research", "basic")
    assert profile.options == {
        Option.RETAIN_PATIENT_CHARACTERISTICS,
        Option.CLEAN_DESCRIPTORS,
        Option.CLEAN_STRUCTURED_CONTENT,
        Option.RETAIN_LONGITUDINAL_MODIFIED_DATES,
        Option.RETAIN_SAFE_PRIVATE,
    }
    assert research.action_for(kw("PatientSex")) is Action.KEEP
    assert research.action_for(kw("PatientAge")) is Action.KEEP
    assert research.action_for(kw("PatientWeight")) is Action.KEEP
    assert research.action_for(kw("StudyDate")) is Action.SHIFT
    assert research.action_for(kw("AcquisitionDate")) is Action.SHIFT
    assert research.action_for(kw("PatientBirthDate")) is Action.EMPTY
    assert research.action_for(kw("StudyDescription")) is Action.CLEAN
    assert research.action_for(kw("SeriesDescription")) is Action.CLEAN
    assert research.action_for(kw("ContentSequence")) is Action.CLEAN
    assert profile.dates.policy is DatePolicy.SHIFT
    low, high = profile.dates.shift_days
    assert low <= high < 0
    assert profile.private.policy is PrivatePolicy.SAFE
    assert [c for c, _ in research.option_codes()] == [
        "113100",
        "113104",
        "113105",
        "113107",
        "113108",
        "113111",
    ]


def test_ai_upload(compiled: dict[str, CompiledProfile]) -> None:
    ai = compiled["ai-upload"]
    assert ai.action_for(kw("PatientSex")) is Action.KEEP
    assert ai.action_for(kw("PatientAge")) is Action.KEEP
    assert ai.action_for(kw("PatientWeight")) is Action.REMOVE
    assert ai.action_for(kw("StudyDate")) is Action.EMPTY
    assert ai.profile.private.policy is PrivatePolicy.REMOVE
    assert ai.profile.pixels.policy is PixelPolicy.MODALITIES
    assert set(ai.profile.pixels.modalities) == {"US", "SC", "OT", "XA", "RF", "ES", "XC"}


def test_keep_list(compiled: dict[str, CompiledProfile]) -> None:
    keep_list = compiled["keep-list"]
    raw = yaml.safe_load((PROFILES / "keep-list.yaml").read_text("utf-8"))
    assert keep_list.profile.unlisted is Unlisted.REMOVE
    assert raw["attributes"]["BodyPartExamined"] == "keep"
    assert "KVP" not in raw["attributes"]
    assert "StudyDescription" not in raw["attributes"]
    assert keep_list.action_for(kw("BodyPartExamined")) is Action.KEEP
    assert keep_list.action_for(kw("PixelSpacing")) is Action.KEEP
    assert keep_list.action_for(kw("Rows")) is Action.KEEP
    # public, not in Table E.1-1, not listed: removed (kept by basic)
    assert compiled["basic"].action_for(kw("KVP")) is Action.KEEP
    assert keep_list.action_for(kw("KVP")) is Action.REMOVE
    assert keep_list.action_for(kw("ExposureTime")) is Action.REMOVE
    assert keep_list.action_for(0x00221234) is Action.REMOVE  # in no dictionary
    assert keep_list.action_for(kw("StudyDescription")) is Action.REMOVE
    for keyword, action in raw["attributes"].items():
        assert keep_list.action_for(kw(keyword)) is Action.parse(action), keyword


def test_keep_list_end_to_end(ct_small: str) -> None:
    data, out = anonymize(ct_small, "keep-list")
    source = dcmread(ct_small)
    assert "KVP" in source
    assert "KVP" not in out
    assert "ExposureTime" not in out
    assert out.Rows == source.Rows
    assert out.SliceThickness == source.SliceThickness
    assert not private_tags(out)


# -- Retain Safe Private -------------------------------------------------------------------


def test_is_safe_private(compiled: dict[str, CompiledProfile]) -> None:
    research = compiled["research"]
    # element within block 0x10 (creator at (0019,0010)) ...
    assert research.is_safe_private(0x0019, "GEMS_ACQU_01", 0x1023)
    # ... or any other block: only the low byte counts
    assert research.is_safe_private(0x0019, "GEMS_ACQU_01", 0x1123)
    assert research.is_safe_private(0x0019, "GEMS_ACQU_01", 0x109E)
    assert not research.is_safe_private(0x0019, "GEMS_ACQU_01", 0x1025)  # not listed
    assert not research.is_safe_private(0x0019, "GEMS_ACQU_02", 0x1023)  # wrong creator
    assert not research.is_safe_private(0x0019, "gems_acqu_01", 0x1023)  # exact match
    assert not research.is_safe_private(0x0021, "GEMS_ACQU_01", 0x1023)  # wrong group
    assert research.is_safe_private(0x2001, "Philips Imaging DD 001", 0x100A)  # (2001,xx0a)


def test_profile_adds_its_own_safe_private(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        "name: site\nextends: research\nprivate:\n  policy: safe\n  safe:\n"
        '    - {group: "0009", creator: "ACME 1.0", element: "1a"}\n',
        "utf-8",
    )
    site = compile_profile(load_profile(path))
    assert site.is_safe_private(0x0009, "ACME 1.0", 0x101A)
    assert not site.is_safe_private(0x0009, "ACME 1.0", 0x101B)
    assert site.is_safe_private(0x0019, "GEMS_ACQU_01", 0x1023)  # the table still applies


def test_research_keeps_only_the_safe_private_elements(ct_small: str) -> None:
    source = dcmread(ct_small)
    before = private_tags(source)
    assert len(before) == 179
    assert set(CT_SMALL_SAFE) <= before
    for tag, creator in CT_SMALL_SAFE.items():
        assert source[(tag >> 16 << 16) | 0x0010].value == creator

    _data, out = anonymize(ct_small, "research")
    assert private_tags(out) == set(CT_SMALL_SAFE) | CT_SMALL_CREATORS
    for tag in CT_SMALL_SAFE:
        assert out[tag].value == source[tag].value
    for tag in CT_SMALL_CREATORS:
        assert out[tag].value == source[tag].value
    assert "113111" in [item.CodeValue for item in out.DeidentificationMethodCodeSequence]


def test_basic_removes_every_private_element(ct_small: str) -> None:
    data, out = anonymize(ct_small, "basic")
    assert private_tags(out) == set()
    assert b"GEMS_ACQU_01" not in data
    assert "113111" not in [item.CodeValue for item in out.DeidentificationMethodCodeSequence]


def test_research_shifts_dates_and_keeps_characteristics(ct_small: str) -> None:
    source = dcmread(ct_small)
    _data, out = anonymize(ct_small, "research")
    assert out.PatientSex == source.PatientSex
    assert out.StudyDate != source.StudyDate
    assert len(out.StudyDate) == 8
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    assert out.PatientName != source.PatientName
