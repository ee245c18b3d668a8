"""The leak check catches what a profile lets slip, names the tag path, and writes nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from factories import (
    FAKE_ID,
    FAKE_NAME,
    KEY,
    STUDY_DATE,
    anonymizer_for,
    compiled,
    make_phi_dataset,
    pydicom_file,
    to_bytes,
    write_profile,
)
from pydicom.dataset import Dataset

from anonymizer.errors import LeakDetected, Reason, VerificationFailed
from anonymizer.identifiers import Identifiers, collect_identifiers, find_needles
from anonymizer.verify import verify_output


def _ct(**values: object) -> bytes:
    """CT_small with fake identity and the given extra attributes."""
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    ds.PatientName = FAKE_NAME
    ds.PatientID = FAKE_ID
    ds.InstitutionName = "Fake General Hospital"
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return to_bytes(ds)


def _keeping(tmp_path: Path, *keywords: str, extra: str = "") -> Path:
    body = "extends: basic\nattributes:\n" + "".join(f"  {k}: keep\n" for k in keywords)
    return write_profile(tmp_path, "leaky", body + extra)


def _leak(profile: Path | str, data: bytes) -> tuple[LeakDetected, bytes]:
    out = io.BytesIO()
    with pytest.raises(LeakDetected) as caught:
        anonymizer_for(profile).anonymize(data, out)
    return caught.value, out.getvalue()


# -- a kept element holding an identifier -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (f"CT chest for {FAKE_ID}", FAKE_ID),
        (f"CT chest for {FAKE_NAME}", FAKE_NAME),
        ("CT chest for Patient Fake", "Patient Fake"),  # "GIVEN FAMILY", any case
        ("CT chest for FAKE, PATIENT", "FAKE, PATIENT"),
        (f"CT chest for {FAKE_ID.lower()}", FAKE_ID.lower()),
        ("Seen at FAKE GENERAL HOSPITAL", "FAKE GENERAL HOSPITAL"),
    ],
)
def test_kept_description_with_identifier_is_caught(tmp_path: Path, text: str, value: str) -> None:
    error, written = _leak(_keeping(tmp_path, "StudyDescription"), _ct(StudyDescription=text))
    assert error.paths == ["(0008,1030)"]
    assert error.reason is Reason.LEAK_DETECTED
    assert "(0008,1030)" in str(error)
    assert value.lower() not in str(error).lower()
    assert written == b""


def test_kept_private_element_with_patient_name_is_caught(tmp_path: Path) -> None:
    ds = pydicom.dcmread(pydicom_file("MR_small.dcm"))
    ds.PatientName = FAKE_NAME
    ds.PatientID = FAKE_ID
    ds.add_new(0x00290010, "LO", "FAKE VENDOR")
    ds.add_new(0x00291010, "LO", "harmless")
    ds.add_new(0x00291020, "PN", FAKE_NAME)
    profile = write_profile(tmp_path, "keepprivate", "extends: basic\nprivate:\n  policy: keep\n")
    error, written = _leak(profile, to_bytes(ds))
    assert error.paths == ["(0029,1020)"]
    assert "FAKE" not in str(error)
    assert written == b""


def test_private_pattern_keep_caught_inside_private_sequence(tmp_path: Path) -> None:
    ds = pydicom.dcmread(pydicom_file("MR_small.dcm"))
    ds.PatientID = FAKE_ID
    item = Dataset()
    item.add_new(0x00310010, "LO", "FAKE VENDOR")
    item.add_new(0x00311001, "LO", f"id {FAKE_ID}")
    ds.add_new(0x00310010, "LO", "FAKE VENDOR")
    ds.add_new(0x00311000, "SQ", pydicom.Sequence([item]))
    body = "extends: basic\npatterns:\n  - tag: (0031,xxxx)\n    action: keep\n"
    error, _ = _leak(write_profile(tmp_path, "pattern", body), to_bytes(ds))
    assert error.paths == ["(0031,1000)[0]/(0031,1001)"]


def test_nested_kept_element_reports_full_path(tmp_path: Path) -> None:
    phi = make_phi_dataset()
    profile = _keeping(tmp_path, "RequestAttributesSequence", "RequestedProcedureDescription")
    error, written = _leak(profile, phi.to_bytes())
    assert "(0040,0275)[0]/(0032,1060)" in error.paths
    assert written == b""


def test_replaced_uid_kept_elsewhere_is_caught(tmp_path: Path) -> None:
    # The Study Instance UID is replaced at the top level; a profile that keeps the
    # reference to it in Referenced Study Sequence would leave the original behind.
    phi = make_phi_dataset()
    profile = _keeping(tmp_path, "ReferencedStudySequence", "ReferencedSOPInstanceUID")
    error, written = _leak(profile, phi.to_bytes())
    assert error.paths == ["(0008,1110)[0]/(0008,1155)"]
    assert phi.uids["study"] not in str(error)
    assert written == b""


def test_removed_date_found_in_kept_text_is_caught(tmp_path: Path) -> None:
    # The Study Date is removed by the walk; it must then not be found anywhere else.
    data = _ct(StudyDate=STUDY_DATE, ImageComments=f"scanned {STUDY_DATE} late")
    error, _ = _leak(_keeping(tmp_path, "ImageComments"), data)
    assert error.paths == ["(0020,4000)"]


def test_single_name_component_only_counts_in_names_and_free_text(tmp_path: Path) -> None:
    profile = _keeping(tmp_path, "ImageComments", "Manufacturer")
    # A surname alone in a coded or short-string element is not a leak (it could be a vendor),
    surname_vendor = _ct(PatientName="SMITHSON^JANE", Manufacturer="Smithson Medical")
    out = io.BytesIO()
    anonymizer_for(profile).anonymize(surname_vendor, out)
    assert b"Smithson Medical" in out.getvalue()
    # but in free text it is.
    error, _ = _leak(profile, _ct(PatientName="SMITHSON^JANE", ImageComments="Smithson fell"))
    assert error.paths == ["(0020,4000)"]


def test_identifier_inside_a_longer_word_is_not_a_leak(tmp_path: Path) -> None:
    profile = _keeping(tmp_path, "StudyDescription")
    out = io.BytesIO()
    anonymizer_for(profile).anonymize(
        _ct(PatientID="FAKE77", StudyDescription="protocol FAKE778 and XFAKE77"), out
    )
    assert b"FAKE778" in out.getvalue()


def test_latin1_name_found_in_its_own_encoding(tmp_path: Path) -> None:
    data = _ct(
        SpecificCharacterSet="ISO_IR 100",
        PatientName="FAKÉLASTNAME^ANDRÉ",
        ImageComments="seen: FAKÉLASTNAME ANDRÉ",
    )
    assert "FAKÉLASTNAME".encode("latin-1") in data
    error, _ = _leak(_keeping(tmp_path, "ImageComments"), data)
    assert error.paths == ["(0020,4000)"]


def test_anonymize_file_leaves_nothing_on_leak(tmp_path: Path) -> None:
    source = tmp_path / "in.dcm"
    source.write_bytes(_ct(StudyDescription=f"for {FAKE_ID}"))
    target = tmp_path / "out" / "result.dcm"
    with pytest.raises(LeakDetected):
        anonymizer_for(_keeping(tmp_path, "StudyDescription")).anonymize_file(source, target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_clean_output_passes(tmp_path: Path) -> None:
    # The same kept element without an identifier goes through: the check is not blanket.
    out = io.BytesIO()
    profile = _keeping(tmp_path, "StudyDescription")
    anonymizer_for(profile).anonymize(_ct(StudyDescription="CT chest routine"), out)
    assert pydicom.dcmread(io.BytesIO(out.getvalue())).StudyDescription == "CT chest routine"


# -- verify_output on its own -------------------------------------------------------------


def _deidentified() -> Dataset:
    ds = Dataset()
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "test"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = "2.25.1"
    return ds


def test_missing_method_attributes_fail() -> None:
    ds = _deidentified()
    del ds.PatientIdentityRemoved
    with pytest.raises(VerificationFailed):
        verify_output(b"", ds, identifiers=Identifiers(), compiled=compiled("basic"))


def test_element_that_should_be_removed_fails_without_its_value() -> None:
    ds = _deidentified()
    item = Dataset()
    item.PatientAddress = "123 Fakestreet Lane"
    ds.ReferencedImageSequence = pydicom.Sequence([item])
    with pytest.raises(VerificationFailed) as caught:
        verify_output(b"", ds, identifiers=Identifiers(), compiled=compiled("basic"))
    assert "(0008,1140)[0]/(0010,1040)" in str(caught.value)
    assert "Fakestreet" not in str(caught.value)


def test_hit_outside_any_element_still_fails() -> None:
    ds = _deidentified()
    ids = Identifiers()
    ids.add_value(FAKE_ID, strong=True)
    with pytest.raises(LeakDetected) as caught:
        verify_output(
            b"\0" * 128 + FAKE_ID.encode(), ds, identifiers=ids, compiled=compiled("basic")
        )
    assert caught.value.paths == ["(file bytes outside any element)"]


def test_collect_identifiers_skips_what_the_profile_keeps(tmp_path: Path) -> None:
    ds = pydicom.dcmread(io.BytesIO(_ct()))
    keeping = compiled(str(_keeping(tmp_path, "InstitutionName")))
    assert b"fake general hospital" not in collect_identifiers(ds, keeping).needles()
    assert b"fake general hospital" in collect_identifiers(ds, compiled("basic")).needles()
    assert b"fake-mrn-0001" in collect_identifiers(ds, keeping).needles()


def test_find_needles_whole_words() -> None:
    assert find_needles(b"id fake77 here", [b"fake77"]) == [(3, b"fake77")]
    assert find_needles(b"id fake778 here", [b"fake77"]) == []
    assert find_needles(b"1.2.3.45", [b"1.2.3.4"]) == []
    assert find_needles(b"x 1.2.3.4\0", [b"1.2.3.4"]) == [(2, b"1.2.3.4")]


def test_leak_message_limits_paths_shown() -> None:
    error = LeakDetected([f"({i:04X},0010)" for i in range(8)])
    assert str(error).endswith("...")
    assert len(error.paths) == 8
    assert KEY.key_id not in str(error)


# -- no false alarms on what the pipeline itself writes -------------------------------------


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("PatientName", "ANON"),
        ("PatientName", "ANONYMIZED"),
        ("PatientName", "Anonymous"),
        ("PatientName", "REMOVED"),
        ("PatientBirthDate", "19000101"),
        ("PatientID", "ANONYMIZED"),
    ],
)
def test_already_anonymized_input_is_not_a_leak(keyword: str, value: str) -> None:
    # The output holds "ANON^...", dummy "ANONYMIZED" texts, "REMOVED" and 19000101 dates.
    phi = make_phi_dataset()
    setattr(phi.dataset, keyword, value)
    out = io.BytesIO()
    anonymizer_for("basic").anonymize(phi.to_bytes(), out)
    assert out.getvalue()


def test_removed_description_repeated_in_code_meaning_is_not_a_leak() -> None:
    # RIS systems copy the procedure code's meaning into Study Description; the code is K.
    code = Dataset()
    code.CodeValue = "2501"
    code.CodingSchemeDesignator = "99FAKERIS"
    code.CodeMeaning = "ECHOCARDIOGRAM COMPLETE"
    data = _ct(StudyDescription="ECHOCARDIOGRAM COMPLETE", ProcedureCodeSequence=[code])
    out = io.BytesIO()
    anonymizer_for("basic").anonymize(data, out)
    back = pydicom.dcmread(io.BytesIO(out.getvalue()))
    assert back.ProcedureCodeSequence[0].CodeMeaning == "ECHOCARDIOGRAM COMPLETE"
    assert "StudyDescription" not in back


def test_removed_description_repeated_in_kept_text_is_caught(tmp_path: Path) -> None:
    text = "Follow-up after fall at home"
    data = _ct(StudyDescription=text, ImageComments=f"note: {text}")
    error, _ = _leak(_keeping(tmp_path, "ImageComments"), data)
    assert error.paths == ["(0020,4000)"]
