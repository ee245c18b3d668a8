"""Invariants of header de-identification, checked on a CT full of planted fake PHI."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import pydicom
import pytest
from factories import (
    ACQUISITION_DATE,
    ACQUISITION_DATETIME,
    BIRTH_DATE,
    CONTENT_DATE,
    PROFILES,
    SERIES_DATE,
    SPS_DATE,
    STUDY_DATE,
    PhiDataset,
    anonymizer_for,
    compiled,
    encodings_of,
    leaked,
    leaked_uids,
    make_phi_dataset,
    walk,
)
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from anonymizer import Action, ObjectResult
from anonymizer.errors import NestingTooDeep
from anonymizer.header import deidentify_header
from anonymizer.pseudonyms import Pseudonymizer

EXPECTED_CODES = {
    "basic": ["113100"],
    "research": ["113100", "113104", "113105", "113107", "113108", "113111"],
    "ai-upload": ["113100"],
    "keep-list": ["113100"],
}
ADDED_BY_US = {0x00120062, 0x00120063, 0x00120064, 0x00280303}
# Attributes that every shipped profile removes (X in Table E.1-1 and in no option column).
ALWAYS_REMOVED = (
    "IssuerOfPatientID",
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "PatientBirthTime",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy",
    "PhysiciansOfRecord",
    "RequestingPhysician",
    "RequestedProcedureID",
    "ScheduledProcedureStepID",
    "IconImageSequence",
    "OriginalAttributesSequence",
    "DigitalSignaturesSequence",
)


@dataclass
class Run:
    phi: PhiDataset
    source: bytes
    output: bytes
    result: ObjectResult
    out: Dataset


def _run(profile: str, transfer_syntax: str = ExplicitVRLittleEndian) -> Run:
    phi = make_phi_dataset()
    phi.dataset.file_meta.TransferSyntaxUID = UID(transfer_syntax)
    source = phi.to_bytes()
    buffer = io.BytesIO()
    result = anonymizer_for(profile).anonymize(source, buffer)
    output = buffer.getvalue()
    return Run(phi, source, output, result, pydicom.dcmread(io.BytesIO(output)))


@pytest.fixture(scope="module", params=PROFILES)
def run(request: pytest.FixtureRequest) -> Run:
    return _run(request.param)


@pytest.fixture(scope="module")
def research() -> Run:
    return _run("research")


@pytest.fixture(scope="module")
def basic() -> Run:
    return _run("basic")


def _tags_anywhere(ds: Dataset) -> set[int]:
    return {tag for _path, _parent, tag in walk(ds)}


# -- nothing planted survives --------------------------------------------------------------


def test_no_planted_value_in_output_bytes(run: Run) -> None:
    encodings = ("ascii", "utf-8", "latin-1", *encodings_of(run.phi.dataset))
    assert leaked(run.output, run.phi.planted, encodings) == []


def test_no_original_uid_in_output(run: Run) -> None:
    assert leaked_uids(run.output, run.phi.uids.values()) == []


@pytest.mark.parametrize(
    "transfer_syntax",
    [ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian],
    ids=["implicit", "big-endian", "deflated"],
)
@pytest.mark.parametrize("profile", ["basic", "research"])
def test_no_planted_value_in_any_transfer_syntax(profile: str, transfer_syntax: str) -> None:
    done = _run(profile, transfer_syntax)
    assert leaked(done.output, done.phi.planted, ("ascii", "latin-1")) == []
    assert leaked_uids(done.output, done.phi.uids.values()) == []
    expected = ExplicitVRLittleEndian if transfer_syntax.endswith(".99") else transfer_syntax
    assert done.out.file_meta.TransferSyntaxUID == expected


def test_planted_values_were_in_the_input(run: Run) -> None:
    # The check above means something only if the values were there to begin with.
    missing = set(run.phi.planted) - set(leaked(run.source, run.phi.planted, ("latin-1",)))
    assert missing == set()
    assert leaked_uids(run.source, run.phi.uids.values()) == list(run.phi.uids.values())


# -- the output is valid DICOM ---------------------------------------------------------------


def test_output_round_trips_through_dcmwrite(run: Run) -> None:
    again = io.BytesIO()
    pydicom.dcmwrite(again, run.out, enforce_file_format=True)
    reread = pydicom.dcmread(io.BytesIO(again.getvalue()))
    assert reread == run.out
    assert reread.file_meta.MediaStorageSOPInstanceUID == run.out.SOPInstanceUID
    for elem in reread.iterall():
        _ = elem.value  # every value decodes


def test_pixel_data_copied_unchanged(run: Run) -> None:
    assert run.out.PixelData == run.phi.dataset.PixelData
    assert run.result.size == len(run.output)


def test_file_meta_written_anew(run: Run) -> None:
    assert run.output[:128] == b"\0" * 128
    assert run.output[128:132] == b"DICM"
    meta = run.out.file_meta
    assert "SourceApplicationEntityTitle" not in meta
    assert meta.MediaStorageSOPInstanceUID == run.out.SOPInstanceUID
    assert meta.MediaStorageSOPClassUID == run.out.SOPClassUID
    assert run.out.SOPInstanceUID != run.phi.uids["sop"]
    assert run.out.SOPInstanceUID.startswith("2.25.")
    assert run.result.sop_instance_uid == run.out.SOPInstanceUID


def test_sop_class_kept(run: Run) -> None:
    assert run.out.SOPClassUID == run.phi.dataset.SOPClassUID


# -- removed means removed, at every depth --------------------------------------------------


def test_removed_attributes_gone_at_every_depth(run: Run) -> None:
    table = compiled(_profile_of(run))
    offending = []
    for path, _parent, tag in walk(run.out):
        if tag >> 16 & 1 or tag in ADDED_BY_US or "(0012,0064)" in path:
            continue
        if table.action_for(tag) is Action.REMOVE:
            offending.append(path)
    assert offending == []


def _profile_of(run: Run) -> str:
    return str(run.out.DeidentificationMethod[1]).split()[1]


@pytest.mark.parametrize("keyword", ALWAYS_REMOVED)
def test_identifying_attribute_gone_everywhere(run: Run, keyword: str) -> None:
    tag = pydicom.datadict.tag_for_keyword(keyword)
    assert tag in _tags_anywhere(run.phi.dataset) or keyword == "DigitalSignaturesSequence"
    assert tag not in _tags_anywhere(run.out)


def test_overlay_group_removed_whole(run: Run) -> None:
    assert not [t for t in _tags_anywhere(run.out) if 0x6000 <= t >> 16 <= 0x601E]


def test_private_elements_removed_under_basic(basic: Run) -> None:
    assert not [t for t in _tags_anywhere(basic.out) if t >> 16 & 1]
    assert basic.result.private_kept == 0
    assert basic.result.private_removed > 0


def test_research_keeps_only_safe_private_with_their_creators(research: Run) -> None:
    table = compiled("research")
    kept = [(parent, tag) for _p, parent, tag in walk(research.out) if tag >> 16 & 1]
    assert kept, "CT_small has elements on the safe private list"
    for parent, tag in kept:
        group, element = tag >> 16, tag & 0xFFFF
        if element <= 0xFF:
            continue
        creator = parent[(group << 16) | (element >> 8)].value
        assert table.is_safe_private(group, creator, element)
    # The planted creators (holding PHI) went with their blocks.
    creators = [parent[tag].value for parent, tag in kept if tag & 0xFFFF <= 0xFF]
    assert all("FAKE" not in str(c) for c in creators)


# -- the method attributes (PS3.15 E.1.1) ---------------------------------------------------


def test_method_attributes(run: Run) -> None:
    profile = _profile_of(run)
    assert run.out.PatientIdentityRemoved == "YES"
    codes = [item.CodeValue for item in run.out.DeidentificationMethodCodeSequence]
    assert codes == EXPECTED_CODES[profile]
    assert {item.CodingSchemeDesignator for item in run.out.DeidentificationMethodCodeSequence} == {
        "DCM"
    }
    expected = "MODIFIED" if profile == "research" else "REMOVED"
    assert run.out.LongitudinalTemporalInformationModified == expected
    assert run.out.DeidentificationMethod[0] == "upload-anonymizer"
    assert "key test" in run.out.DeidentificationMethod


# -- pseudonyms and dates --------------------------------------------------------------------


def test_patient_pseudonyms(run: Run) -> None:
    pseudonym = run.result.patient_pseudonym
    assert pseudonym is not None
    assert run.out.PatientID == pseudonym
    assert str(run.out.PatientName) == f"ANON^{pseudonym}"
    # Names inside sequences get the same patient pseudonym.
    nested = run.out.get("ReferencedImageSequence")
    if nested is not None:
        inner = nested[0].SourceImageSequence[0]
        assert str(inner.PatientName) == f"ANON^{pseudonym}"


def test_basic_leaves_no_date(basic: Run) -> None:
    dates = [
        (path, parent[tag].value)
        for path, parent, tag in walk(basic.out)
        if parent[tag].VR in ("DA", "DT") and parent[tag].value
    ]
    # Dummy dates (D) are allowed; real ones are not.
    assert {value for _path, value in dates} <= {"19000101", "19000101000000"}


def _date(text: str) -> dt.date:
    return dt.datetime.strptime(text[:8], "%Y%m%d").date()


def test_research_shifts_every_date_by_one_offset(research: Run) -> None:
    out = research.out
    shift = (_date(out.StudyDate) - _date(STUDY_DATE)).days
    assert -730 <= shift <= -1
    request = out.RequestAttributesSequence[0]
    context = request.ScheduledProtocolCodeSequence[0].ProtocolContextSequence[0]
    pairs = [
        (out.SeriesDate, SERIES_DATE),
        (out.AcquisitionDate, ACQUISITION_DATE),
        (out.ContentDate, CONTENT_DATE),
        (out.AcquisitionDateTime, ACQUISITION_DATETIME),
        (request.ScheduledProcedureStepStartDate, SPS_DATE),
        (context.DateTime, "20030417"),
        (out.ReferencedImageSequence[0].StudyDate, STUDY_DATE),
    ]
    for shifted, original in pairs:
        assert (_date(shifted) - _date(original)).days == shift
    # DT keeps its precision and time; times are kept (the shift is in whole days).
    assert out.AcquisitionDateTime[8:] == ACQUISITION_DATETIME[8:]
    assert out.StudyTime == research.phi.dataset.StudyTime
    # Birth date is Z even with Retain Patient Characteristics.
    assert out.PatientBirthDate == ""
    assert BIRTH_DATE not in research.output.decode("latin-1")
    assert research.result.dates_shifted >= len(pairs)


def test_research_cleans_descriptors_but_keeps_their_other_words(research: Run) -> None:
    out = research.out
    assert out.StudyDescription.startswith("CT chest ")
    assert "[REMOVED]" in out.StudyDescription
    assert "[REMOVED]" in out.ContentSequence[0].ContentSequence[0].TextValue
    assert out.PatientAge == "060Y"  # Retain Patient Characteristics
    assert out.PatientSex == "O"


def test_research_keeps_structured_content_structure(research: Run) -> None:
    content = research.out.ContentSequence[0].ContentSequence
    assert [item.ValueType for item in content] == ["TEXT", "PNAME"]
    assert str(content[1].PersonName) == "ANONYMOUS"


def test_basic_replaces_content_sequence_with_dummy(basic: Run) -> None:
    assert len(basic.out.ContentSequence) == 1
    assert len(basic.out.ContentSequence[0]) == 0


def test_references_mapped_consistently_within_file(run: Run) -> None:
    out = run.out
    source = out.SourceImageSequence[0].ReferencedSOPInstanceUID
    nested = out.ReferencedImageSequence[0].SourceImageSequence[0]
    assert nested.ReferencedSOPInstanceUID == source
    assert source != run.phi.uids["source"]
    assert source.startswith("2.25.")
    innermost = nested.ReferencedImageSequence[0]
    assert innermost.ReferencedSOPInstanceUID.startswith("2.25.")
    if _profile_of(run) != "keep-list":  # keep-list removes what it does not name
        assert innermost.ReferencedSOPClassUID == run.phi.dataset.SOPClassUID


def test_kept_public_values_unchanged(run: Run) -> None:
    for keyword in ("Modality", "Rows", "Columns", "BitsAllocated", "PixelRepresentation"):
        assert run.out[keyword].value == run.phi.dataset[keyword].value


# -- the walker itself -----------------------------------------------------------------------


def _nested(depth: int) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = "1.2.3.4"
    inner = ds
    for _ in range(depth):
        item = Dataset()
        item.PatientName = "FAKE^NESTED"
        inner.ReferencedImageSequence = Sequence([item])
        inner = item
    return ds


def test_walker_refuses_nesting_deeper_than_limit() -> None:
    pseudonyms = Pseudonymizer(anonymizer_for("basic").key)
    deidentify_header(_nested(16), compiled=compiled("basic"), pseudonyms=pseudonyms, max_depth=16)
    with pytest.raises(NestingTooDeep):
        deidentify_header(
            _nested(17), compiled=compiled("basic"), pseudonyms=pseudonyms, max_depth=16
        )


def test_name_nested_at_depth_gets_pseudonym() -> None:
    ds = _nested(10)
    pseudonyms = Pseudonymizer(anonymizer_for("basic").key)
    result = deidentify_header(ds, compiled=compiled("basic"), pseudonyms=pseudonyms)
    names = [str(e.value) for e in ds.iterall() if e.keyword == "PatientName"]
    assert len(names) == 10
    assert "FAKE^NESTED" not in names
    assert result.stats.replaced >= 10


def test_un_encoded_identifying_elements_follow_their_action() -> None:
    # Explicit VR "UN" for public tags (a converter lost the VR) must still be de-identified.
    phi = make_phi_dataset()
    ds = phi.dataset
    for keyword in ("InstitutionName", "OperatorsName", "StudyDescription", "PatientAddress"):
        elem = ds[keyword]
        raw = str(elem.value).encode("latin-1")
        del ds[keyword]
        ds.add_new(elem.tag, "UN", raw + b" " * (len(raw) % 2))
    for profile in ("basic", "research"):
        buffer = io.BytesIO()
        anonymizer_for(profile).anonymize(phi.to_bytes(), buffer)
        assert leaked(buffer.getvalue(), phi.planted, ("latin-1",)) == []
