"""Each report format de-identified with the images' pseudonyms, and checked for leaks.

Fake PHI only: ``FAKE^REPORT^PATIENT``, ``가짜^환자``, registration numbers built with a valid
check digit from a fake serial, phones in unassigned ranges, example.com addresses.
"""

from __future__ import annotations

import io
import json
import types
import warnings
from pathlib import Path

import pydicom
import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pytest
from fpdf import FPDF
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid
from pypdf import PdfReader, PdfWriter

from anonymizer import Anonymizer, LeakDetected, PseudonymKey
from anonymizer.errors import VerificationFailed
from anonymizer.reports import (
    PdfPolicy,
    Replacement,
    ReportAnonymizer,
    ReportError,
    ReportInput,
    ReportKind,
    ReportOptions,
    ReportReason,
    ReportSettings,
    classify_report,
)
from anonymizer.reports.files import ReportFileStatus, anonymize_report_dir, study_of_path
from anonymizer.reports.options import report_options
from anonymizer.reports.pdf_report import pdf_page_texts

KEY = PseudonymKey(key_id="test", secret=b"r" * 32)
ROOT = "1.2.826.0.1.3680043.8.498.7731"  # a test-only root; the values below are made up
STUDY = f"{ROOT}.1"
SERIES = f"{ROOT}.2"
SOP = f"{ROOT}.3"
FINDING_SOP = f"{ROOT}.4"
NAME = "FAKE^REPORT^PATIENT"
PATIENT_ID = "FAKE-RPT-0001"
ACCESSION = "FAKEACC0001"
BIRTH = "19610203"
PHONE = "010-0000-1234"
EMAIL = "fake.patient@example.com"
WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def fake_rrn(birth: str = "610203", gender: str = "2") -> str:
    first = birth + gender + "00000"
    check = (11 - sum(int(d) * w for d, w in zip(first, WEIGHTS, strict=True)) % 11) % 10
    return f"{birth}-{gender}00000{check}"


def read(data: bytes) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(io.BytesIO(data))


def ct_image(*, study_date: str = "20210315") -> bytes:
    """CT_small with fake PHI and our own UIDs: the study the reports describe."""
    ds = read(Path(str(get_testdata_file("CT_small.dcm"))).read_bytes())
    ds.PatientName = NAME
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = BIRTH
    ds.AccessionNumber = ACCESSION
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = SERIES
    ds.SOPInstanceUID = SOP
    ds.file_meta.MediaStorageSOPInstanceUID = UID(SOP)
    ds.StudyDate = study_date
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def image_result(profile: str = "basic", **kwargs: str) -> Dataset:
    out = io.BytesIO()
    Anonymizer(profile=profile, key=KEY).anonymize(ct_image(**kwargs), out)
    return read(out.getvalue())


def reports(profile: str = "basic", **options: object) -> ReportAnonymizer:
    anonymizer = Anonymizer(profile=profile, key=KEY)
    return ReportAnonymizer(anonymizer, options=ReportOptions(**options) if options else None)  # type: ignore[arg-type]


def ai_result() -> dict[str, object]:
    """An AI result as vendors send them: it quotes the original UIDs and the patient."""
    return {
        "StudyInstanceUID": STUDY,
        "PatientName": NAME,
        "PatientID": PATIENT_ID,
        "AccessionNumber": ACCESSION,
        "model": {"name": "chest-ct-nodule", "version": "2.4.1"},
        "findings": [
            {
                "sop_instance_uid": FINDING_SOP,
                "series_uid": SERIES,
                "label": "nodule",
                "score": 0.91,
                "note": f"Solid nodule in {FINDING_SOP} for {NAME}; compare {SOP}.",
            },
            {"sop_instance_uid": SOP, "label": "emphysema", "score": 0.42, "note": "mild"},
        ],
        "heatmaps": {FINDING_SOP: "heatmap-1.png"},
        "summary": f"Call Fake Report Patient at {PHONE} or {EMAIL}. DOB 1961-02-03.",
    }


def leaks(data: bytes) -> list[str]:
    text = data.decode("utf-8", "replace").lower()
    values = [NAME, "Fake Report Patient", PATIENT_ID, ACCESSION, STUDY, SERIES, SOP]
    values += [FINDING_SOP, PHONE, EMAIL, "1961-02-03", BIRTH]
    return [v for v in values if v.lower() in text]


# -- JSON ---------------------------------------------------------------------------------


def test_json_result_gets_the_images_pseudonyms() -> None:
    image = image_result()
    report = reports().anonymize(ReportInput(json.dumps(ai_result()).encode(), "result.json"))
    out = json.loads(report.data)
    assert report.kind is ReportKind.JSON
    assert leaks(report.data) == []
    # Linked to the stored study by the same pseudonymized UIDs and the same patient pseudonym.
    assert out["StudyInstanceUID"] == image.StudyInstanceUID == report.study_uid
    assert out["findings"][1]["sop_instance_uid"] == image.SOPInstanceUID
    assert out["findings"][0]["series_uid"] == image.SeriesInstanceUID
    assert out["PatientID"] == image.PatientID
    assert out["PatientName"] == str(image.PatientName)
    finding = Anonymizer(profile="basic", key=KEY).pseudonyms.uid(FINDING_SOP)
    assert out["heatmaps"] == {finding: "heatmap-1.png"}
    assert out["findings"][0]["note"] == (
        f"Solid nodule in {finding} for {image.PatientName}; compare {image.SOPInstanceUID}."
    )
    assert out["summary"] == f"Call {image.PatientName} at [PHONE] or [EMAIL]. DOB [BIRTH_DATE]."
    # What identifies nobody is kept as it was.
    assert out["model"] == {"name": "chest-ct-nodule", "version": "2.4.1"}
    assert [f["score"] for f in out["findings"]] == [0.91, 0.42]
    assert report.replaced["UID"] >= 6 and report.replaced["NAME"] >= 2


def test_json_placeholders_when_the_options_say_so() -> None:
    report = reports(replacement=Replacement.PLACEHOLDER).anonymize(
        ReportInput(json.dumps(ai_result()).encode(), "result.json")
    )
    out = json.loads(report.data)
    assert (out["PatientName"], out["PatientID"], out["AccessionNumber"]) == (
        "[NAME]",
        "[ID]",
        "[ACCESSION]",
    )
    # UIDs are what link the report to its study: always the images' pseudonyms.
    assert out["StudyInstanceUID"] == image_result().StudyInstanceUID
    assert leaks(report.data) == []


def test_json_dates_follow_the_profile() -> None:
    document = {
        "patient": {"id": PATIENT_ID, "name": NAME, "birth_date": BIRTH},
        "study_date": "20210315",
        "created_at": "2021-03-16T09:30:00Z",
        "text": "Prior exam on 2021-03-01.",
    }
    data = json.dumps(document).encode()
    basic = json.loads(reports().anonymize(ReportInput(data, "r.json")).data)
    assert basic["study_date"] == basic["created_at"] == "[DATE]"
    assert basic["text"] == "Prior exam on [DATE]."
    research = json.loads(reports("research").anonymize(ReportInput(data, "r.json")).data)
    image = image_result("research")
    # Shifted by the patient's keyed offset, exactly as the images' dates.
    assert research["study_date"] == image.StudyDate != "20210315"
    assert research["created_at"].endswith("T09:30:00Z")
    assert research["patient"]["birth_date"] == "[BIRTH_DATE]"
    assert research["patient"]["id"] == image.PatientID
    assert research["text"].startswith("Prior exam on ") and "2021-03-01" not in research["text"]


def test_json_names_in_parts_and_nested_objects() -> None:
    document = {
        "subject": {"first_name": "Report", "last_name": "Fake", "mrn": PATIENT_ID},
        "radiologist": {"name": "FAKE^READER", "email": "reader@example.com"},
        "comments": ["Fake, Report seen", "Signed FAKE READER"],
        "institution": {"name": "Fake General Hospital"},
        "footer": "Fake General Hospital imaging",
    }
    report = reports().anonymize(ReportInput(json.dumps(document).encode(), "r.json"))
    out = json.loads(report.data)
    text = report.data.decode()
    for value in ("Fake General", "reader@", "FAKE READER", "Fake, Report", PATIENT_ID):
        assert value not in text
    assert out["institution"]["name"] == "[INSTITUTION]"
    assert out["footer"] == "[INSTITUTION] imaging"


def test_numbers_and_keys_are_checked_too() -> None:
    document = {"patient_id": 12345678, "ref": 12345678, "by_patient": {"12345678": True}}
    out = json.loads(reports().anonymize(ReportInput(json.dumps(document).encode())).data)
    assert "12345678" not in json.dumps(out)


@pytest.mark.parametrize("data", [b"{not json", b"[" * 100 + b"]" * 100, b"\xff\xfe{"])
def test_malformed_json_is_rejected(data: bytes) -> None:
    with pytest.raises(ReportError) as caught:
        reports().anonymize(ReportInput(data, "r.json"))
    assert caught.value.report_reason is ReportReason.MALFORMED


# -- text and Markdown ---------------------------------------------------------------------------


def korean_report() -> str:
    return (
        "판독 소견서\n"
        "환자: 가짜 환자 (가짜환자님), 주민등록번호 " + fake_rrn() + "\n"
        "연락처: 010-0000-1234, 보호자 +82 10-0000-5678\n"
        "소견: 우상엽에 6 mm 결절. 환자 상태 양호.\n"
        "검사일: 2021년 3월 15일\n"
    )


@pytest.mark.parametrize("encoding", ["utf-8", "cp949", "utf-16"])
def test_korean_text_report(encoding: str) -> None:
    identifiers = {"PatientName": "가짜^환자", "PatientID": PATIENT_ID}
    report = reports().anonymize(
        ReportInput(korean_report().encode(encoding), "소견서.txt"), identifiers=identifiers
    )
    text = report.data.decode("utf-8")
    assert report.kind is ReportKind.TEXT
    for value in ("가짜", fake_rrn(), "010-0000-1234", "10-0000-5678", "2021년 3월 15일"):
        assert value not in text
    pseudonym = str(image_result().PatientName)
    assert f"환자: {pseudonym} ({pseudonym}님)" in text  # same pseudonym as the images
    assert "환자 상태 양호" in text  # "환자" (patient) alone is a word, not the name
    assert "6 mm 결절" in text
    assert report.replaced == {"DATE": 1, "NAME": 2, "PHONE": 2, "RRN": 1}


def test_text_alone_loses_the_patterns_that_identify_on_their_own() -> None:
    text = f"RRN {fake_rrn()}; phone {PHONE}; mail {EMAIL}; MRN: H0000123; DOB: 03/02/1961"
    out = reports().anonymize(ReportInput(text.encode(), "note.txt")).data.decode()
    assert out == "RRN [RRN]; phone [PHONE]; mail [EMAIL]; MRN: [ID]; DOB: [BIRTH_DATE]"


def test_markdown_report() -> None:
    text = f"# Findings\n\n* nodule, score **0.91**\n* contact [{EMAIL}](mailto:{EMAIL})\n"
    report = reports().anonymize(ReportInput(text.encode(), "report.md"))
    assert report.kind is ReportKind.MARKDOWN
    assert report.media_type == "text/markdown; charset=utf-8"
    assert report.data.decode() == (
        "# Findings\n\n* nodule, score **0.91**\n* contact [[EMAIL]](mailto:[EMAIL])\n"
    )


def test_site_record_number_pattern_from_the_profile() -> None:
    profile = types.SimpleNamespace(reports=ReportSettings(mrn_pattern=r"\bH(?P<id>\d{7})\b"))
    options = report_options(profile)
    anonymizer = Anonymizer(profile="basic", key=KEY)
    out = ReportAnonymizer(anonymizer, options=options).anonymize(ReportInput(b"ward H0000123"))
    assert out.data == b"ward H[ID]"
    with pytest.raises(ValueError, match="empty"):
        ReportSettings(mrn_pattern=".*")


def test_same_report_same_output() -> None:
    data = json.dumps(ai_result()).encode()
    first = reports().anonymize(ReportInput(data, "r.json"))
    second = reports().anonymize(ReportInput(data, "r.json"))
    assert first.data == second.data and first.report_id == second.report_id


def test_invalid_identifiers_are_refused_by_key_never_by_value() -> None:
    with pytest.raises(ReportError) as caught:
        reports().anonymize(ReportInput(b"text"), identifiers={"Nickname": "FAKE^NICK"})
    assert caught.value.report_reason is ReportReason.INVALID_IDENTIFIERS
    assert "FAKE" not in str(caught.value)


# -- PDF ----------------------------------------------------------------------------------------


def make_pdf(lines: list[str], *, author: str | None = None) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    if author:
        pdf.set_author(author)
    for line in lines:
        pdf.cell(text=line)
        pdf.ln()
    return bytes(pdf.output())


IDENTIFIERS = {"PatientName": NAME, "PatientID": PATIENT_ID}
PDF_LINES = [
    "AI chest CT report",
    f"Patient: {NAME}   MRN: {PATIENT_ID}",
    f"Phone: {PHONE}",
    "Finding: solid nodule 6 mm, score 0.91",
]


def test_pdf_with_identifying_text_is_rejected_naming_the_page() -> None:
    with pytest.raises(LeakDetected) as caught:
        reports().anonymize(ReportInput(make_pdf(PDF_LINES)), identifiers=IDENTIFIERS)
    assert caught.value.paths == ["page 1 (ID, NAME, PHONE)"]
    assert NAME not in str(caught.value)


def test_pdf_rasterized_with_identifying_words_masked() -> None:
    source = make_pdf(PDF_LINES)
    report = reports(pdf=PdfPolicy.RASTERIZE, pdf_dpi=72).anonymize(
        ReportInput(source, "report.pdf"), identifiers=IDENTIFIERS
    )
    assert report.kind is ReportKind.PDF
    assert "pdf_rasterized" in report.warnings
    assert pdf_page_texts(report.data) == [""]  # an image PDF: no text left at all
    assert report.replaced == {"ID": 1, "NAME": 1, "PHONE": 1}
    original, masked = render(source), render(report.data)
    doc = pdfium.PdfDocument(source)
    textpage = doc[0].get_textpage()
    text = textpage.get_text_range()
    for value in (NAME, PATIENT_ID, PHONE):
        start = text.index(value)
        left, bottom, right, top = textpage.get_charbox(start + len(value) // 2)
        height = masked.size[1]
        x, y = int((left + right) / 2), int(height - (bottom + top) / 2)
        assert masked.getpixel((x, y)) == (0, 0, 0)
        assert original.getpixel((x, y)) != (0, 0, 0) or value == PHONE
    # The rest of the page is still there.
    start = text.index("nodule")
    left, bottom, right, top = textpage.get_charbox(start)
    box = (int(left), int(masked.size[1] - top), int(right) + 1, int(masked.size[1] - bottom) + 1)
    darkest = masked.crop(box).convert("L").getextrema()[0]
    assert isinstance(darkest, int) and darkest < 128


def render(data: bytes) -> Image.Image:
    doc = pdfium.PdfDocument(data)
    image: Image.Image = doc[0].render(scale=1).to_pil().convert("RGB")
    return image


def test_clean_pdf_is_kept_as_text_without_metadata() -> None:
    source = make_pdf(["AI chest CT report", "Finding: solid nodule 6 mm"], author=NAME)
    report = reports().anonymize(ReportInput(source, "report.pdf"), identifiers=IDENTIFIERS)
    assert pdf_page_texts(report.data) == ["AI chest CT report\r\nFinding: solid nodule 6 mm"]
    assert NAME.encode() not in report.data
    assert not PdfReader(io.BytesIO(report.data)).metadata


def test_scanned_pdf_cannot_be_checked() -> None:
    picture = Image.new("RGB", (200, 100), "white")
    out = io.BytesIO()
    picture.save(out, "PDF")
    with pytest.raises(VerificationFailed, match="page 1 has pictures and no text"):
        reports().anonymize(ReportInput(out.getvalue(), "scan.pdf"))


def test_encrypted_pdf_is_rejected() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["x"]))))
    writer.encrypt("fake-password", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(ReportError) as caught:
        reports().anonymize(ReportInput(out.getvalue(), "locked.pdf"))
    assert caught.value.report_reason is ReportReason.MALFORMED


@pytest.mark.skipif(
    not Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf").exists(),
    reason="needs fonts-nanum for Hangul in a generated PDF",
)
def test_korean_pdf_is_rejected() -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("nanum", "", "/usr/share/fonts/truetype/nanum/NanumGothic.ttf")
    pdf.set_font("nanum", size=12)
    pdf.cell(text=f"환자: 가짜환자 주민번호 {fake_rrn()}")
    with pytest.raises(LeakDetected) as caught:
        reports().anonymize(
            ReportInput(bytes(pdf.output())), identifiers={"PatientName": "가짜^환자"}
        )
    assert caught.value.paths == ["page 1 (NAME, RRN)"]


# -- DICOM SR and Encapsulated PDF -----------------------------------------------------------------


def test_pydicoms_bundled_sr() -> None:
    source = Path(str(get_testdata_file("test-SR.dcm"))).read_bytes()
    original = read(source)
    report = reports().anonymize(ReportInput(source))
    out = read(report.data)
    mapped = Anonymizer(profile="basic", key=KEY).pseudonyms.uid
    assert report.kind is ReportKind.DICOM_SR
    assert report.study_uid == out.StudyInstanceUID == mapped(original.StudyInstanceUID)
    assert report.report_id == out.SOPInstanceUID == mapped(original.SOPInstanceUID)
    assert out.PatientIdentityRemoved == "YES"
    codes = {item.CodeMeaning for item in out.DeidentificationMethodCodeSequence}
    assert "Clean Structured Content Option" in codes
    assert len(out.ContentSequence) == len(original.ContentSequence)  # kept, cleaned
    for value in (b"Riesmeier", b"OFFIS e.V.", b"Test^S R", original.StudyInstanceUID.encode()):
        assert value not in report.data


def test_sr_text_is_scrubbed_with_the_images_pseudonyms() -> None:
    ds = read(Path(str(get_testdata_file("test-SR.dcm"))).read_bytes())
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = NAME, PATIENT_ID, BIRTH
    ds.StudyInstanceUID = STUDY
    text = ds.ContentSequence[1].ContentSequence[0]
    text.TextValue = f"Mass in {NAME}, DOB 1961-02-03, call {PHONE}, RRN {fake_rrn()}"
    source = io.BytesIO()
    ds.save_as(source)
    report = reports().anonymize(ReportInput(source.getvalue()))
    out = read(report.data)
    image = image_result()
    assert out.StudyInstanceUID == image.StudyInstanceUID
    assert out.PatientID == image.PatientID
    value = out.ContentSequence[1].ContentSequence[0].TextValue
    assert value == f"Mass in {image.PatientName}, DOB [BIRTH_DATE], call [PHONE], RRN [RRN]"


def encapsulated_pdf(pdf: bytes) -> bytes:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.104.1"
    ds.SOPInstanceUID = generate_uid(prefix=f"{ROOT}.9.")
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY, f"{ROOT}.8"
    ds.PatientName, ds.PatientID, ds.Modality = NAME, PATIENT_ID, "DOC"
    ds.DocumentTitle = "AI summary"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(pdf)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_encapsulated_pdf_goes_through_the_pdf_path() -> None:
    data = encapsulated_pdf(make_pdf(PDF_LINES))
    with pytest.raises(LeakDetected) as caught:
        reports().anonymize(ReportInput(data))
    assert caught.value.paths == ["page 1 (ID, NAME, PHONE)"]
    report = reports(pdf=PdfPolicy.RASTERIZE, pdf_dpi=72).anonymize(ReportInput(data))
    out = read(report.data)
    assert report.kind is ReportKind.DICOM_PDF
    assert out.StudyInstanceUID == image_result().StudyInstanceUID
    document = bytes(out.EncapsulatedDocument)[: out.EncapsulatedDocumentLength]
    assert pdf_page_texts(document) == [""]
    assert NAME.encode() not in report.data and PATIENT_ID.encode() not in report.data


# -- classification and batch ------------------------------------------------------------


def test_classification() -> None:
    assert classify_report(b'{"a": 1}') is ReportKind.JSON
    assert classify_report(b"plain words") is ReportKind.TEXT
    assert classify_report(b"# x", filename="x.md") is ReportKind.MARKDOWN
    assert classify_report(b"%PDF-1.7\n") is ReportKind.PDF
    with pytest.raises(ReportError) as caught:
        classify_report(b"\x00\x01\x02binary")
    assert caught.value.report_reason is ReportReason.UNSUPPORTED


def test_dicom_images_are_not_reports() -> None:
    with pytest.raises(ReportError) as caught:
        reports().anonymize(ReportInput(ct_image()))
    assert caught.value.report_reason is ReportReason.UNSUPPORTED


def test_batch_folder_of_reports_named_by_study(tmp_path: Path) -> None:
    source, target = tmp_path / "reports", tmp_path / "out"
    (source / STUDY).mkdir(parents=True)
    (source / f"{STUDY}.json").write_text(json.dumps(ai_result()))
    (source / STUDY / "note.txt").write_text(f"{NAME} was called at {PHONE}")
    (source / "unnamed.txt").write_text("no study named")
    anonymizer = Anonymizer(profile="basic", key=KEY)
    results = {
        str(r.source): r for r in anonymize_report_dir(source, target, anonymizer=anonymizer)
    }
    study = image_result().StudyInstanceUID
    assert results["unnamed.txt"].status is ReportFileStatus.FAILED
    for name in (f"{STUDY}.json", f"{STUDY}/note.txt"):
        result = results[name]
        assert result.status is ReportFileStatus.OK
        assert result.output is not None and result.output.parts[:2] == (study, "reports")
        assert leaks((target / result.output).read_bytes()) == []
    assert study_of_path(Path(f"{STUDY}_summary.pdf")) == STUDY
    assert study_of_path(Path("notes/summary.pdf")) is None
