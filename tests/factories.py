"""Synthetic test inputs: real pydicom files with obviously fake PHI planted everywhere.

Nothing here is real patient data. Every planted value starts with or contains ``FAKE`` or
is a date nobody is born on in these files, so a hit in an output is never a coincidence.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pydicom
import pydicom.data
from pydicom.data import get_charset_files, get_testdata_file, get_testdata_files
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from anonymizer import Anonymizer, CompiledProfile, Limits, PseudonymKey
from anonymizer.encode import encode_file_meta
from anonymizer.profiles import compile_profile, load_profile

PROFILES = ("basic", "research", "ai-upload", "keep-list")
KEY = PseudonymKey(key_id="test", secret=b"k" * 32)
OTHER_KEY = PseudonymKey(key_id="other", secret=b"o" * 32)

FAKE_NAME = "FAKE^PATIENT^ONE"
FAKE_ID = "FAKE-MRN-0001"
FAKE_INSTITUTION = "Fake General Hospital"
UID_ROOT = "1.2.826.0.1.3680043.8.498.990"  # a test-only root; values below are made up
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"

# Dates are more than 730 days apart, so a shifted date (research: -730..-1 days) never
# lands on another planted date by chance.
BIRTH_DATE = "19610203"
STUDY_DATE = "20210315"
SERIES_DATE = "20180704"
ACQUISITION_DATE = "20150922"
CONTENT_DATE = "20121130"
CREATION_DATE = "20090511"
ACQUISITION_DATETIME = "20030417101500.123456"
SPS_DATE = "19990808"
DATES = (
    BIRTH_DATE,
    STUDY_DATE,
    SERIES_DATE,
    ACQUISITION_DATE,
    CONTENT_DATE,
    CREATION_DATE,
    "20030417",
    SPS_DATE,
)


@dataclass
class PhiDataset:
    """A data set full of fake PHI and what was planted in it.

    ``planted`` are strings that must not survive any shipped profile; ``uids`` are the
    original UIDs by role (none may survive either, all are replaced).
    """

    dataset: Dataset
    planted: list[str]
    uids: dict[str, str] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return to_bytes(self.dataset)


def to_bytes(ds: Dataset) -> bytes:
    """Write ``ds`` as a DICOM Part 10 file, in memory."""
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def real_files(max_extra_bytes: int = 5 << 20, max_extra_files: int = 40) -> list[Path]:
    """Every file of pydicom's test_files (DICOMDIRs and non-DICOM files included), its
    charset files, and the small files of pydicom-data."""
    base = Path(pydicom.data.__file__).parent
    files = sorted(p for p in (base / "test_files").rglob("*") if p.is_file())
    files += sorted(Path(p) for p in get_charset_files())
    extra = sorted(
        (Path(p) for p in get_testdata_files() if "data_store" in p),
        key=lambda p: p.name,
    )
    files += [p for p in extra if p.stat().st_size < max_extra_bytes][:max_extra_files]
    return files


def pydicom_file(name: str) -> str:
    """Path of a pydicom test file that must be there offline."""
    path = get_testdata_file(name, download=False)
    if path is None:  # pragma: no cover - the file ships with pydicom
        raise FileNotFoundError(name)
    return str(path)


def uid(suffix: str) -> str:
    return f"{UID_ROOT}.{suffix}"


def _item(**values: object) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def make_phi_dataset(
    *,
    base: str = "CT_small.dcm",
    patient_name: str = FAKE_NAME,
    patient_id: str = FAKE_ID,
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    referenced_sop_uid: str | None = None,
    study_date: str = STUDY_DATE,
    series_date: str = SERIES_DATE,
) -> PhiDataset:
    """A real pydicom file (CT_small by default) with fake PHI planted in every place.

    Planted: the patient's names, IDs, birth date, address and phone, other IDs (and their
    sequence), accession, study ID, institution, physicians, operators, station, free text,
    three-level nested sequences, reference sequences with UIDs, private blocks whose
    creators hold PHI, a private sequence, file meta Source AE Title, dates everywhere, an
    overlay, an icon image, Original Attributes and Digital Signatures sequences.
    """
    ds = pydicom.dcmread(pydicom_file(base))
    uids = {
        "study": study_uid or uid("1.1"),
        "series": series_uid or uid("2.1"),
        "sop": sop_uid or uid("3.1"),
        "frame": uid("4.1"),
        "referenced": referenced_sop_uid or uid("3.999"),
        "source": uid("3.998"),
        "nested": uid("3.997"),
        "signature": uid("5.1"),
        "creator": uid("6.1"),
    }
    name_words = " ".join(part for part in patient_name.split("^") if part)
    planted = [
        patient_name,
        patient_id,
        name_words,
        "FAKE-OTHER-0002",
        "FAKE-SEQ-0003",
        "FAKEISSUERAUTH",
        "123 Fakestreet Lane",
        "+1-555-0100-9999",
        "FAKEALIAS^PAT",
        "FAKEBIRTHNAME^PAT",
        "FAKEMOTHER^MAIDEN",
        "FAKEACC00042",
        "FAKESTUDY77",
        FAKE_INSTITUTION,
        "1 Fake Hospital Road",
        "Fake Radiology Department",
        "FAKEREFDOC^ALICE",
        "FAKEPERFDOC^BOB",
        "FAKEREADER^CAROL",
        "FAKEOPERATOR^DAVE",
        "FAKERECORD^FRANK",
        "FAKEREQDOC^GRACE",
        "FAKESTATION9",
        "FAKEPROC123",
        "FAKESPS456",
        "FAKEOBSERVER^EVE",
        "FAKEORIGINAL^NAME",
        "FAKEOVERLAYLABEL",
        "FAKEICONPIXELTEXT",
        "FAKEPRIVNESTED99",
        "FAKEPRIVCREATOR",
        "FAKESIGNERCERT",
        "FAKESRCAE",
        *{study_date, series_date, *DATES},
    ]

    ds.file_meta.SourceApplicationEntityTitle = "FAKESRCAE"
    ds.file_meta.MediaStorageSOPInstanceUID = UID(uids["sop"])
    ds.SpecificCharacterSet = "ISO_IR 100"
    # Patient
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.IssuerOfPatientID = "FAKEISSUERAUTH"
    ds.PatientBirthDate = BIRTH_DATE
    ds.PatientBirthTime = "071500"
    ds.PatientAddress = "123 Fakestreet Lane, Faketown"
    ds.PatientTelephoneNumbers = "+1-555-0100-9999"
    ds.OtherPatientIDs = "FAKE-OTHER-0002"
    ds.OtherPatientIDsSequence = Sequence(
        [
            _item(
                PatientID="FAKE-SEQ-0003",
                TypeOfPatientID="TEXT",
                IssuerOfPatientID="FAKEISSUERAUTH",
            )
        ]
    )
    ds.OtherPatientNames = ["FAKEALIAS^PAT", "FAKEBIRTHNAME^PAT"]
    ds.PatientBirthName = "FAKEBIRTHNAME^PAT"
    ds.PatientMotherBirthName = "FAKEMOTHER^MAIDEN"
    ds.PatientAge = "060Y"
    ds.PatientSex = "O"
    ds.AdditionalPatientHistory = f"History of {patient_name}, record {patient_id}."
    ds.PatientComments = "Lives at 123 Fakestreet Lane, Faketown; call +1-555-0100-9999"
    # Study, visit, staff
    ds.AccessionNumber = "FAKEACC00042"
    ds.StudyID = "FAKESTUDY77"
    ds.InstitutionName = FAKE_INSTITUTION
    ds.InstitutionAddress = "1 Fake Hospital Road, Fakeville"
    ds.InstitutionalDepartmentName = "Fake Radiology Department"
    ds.ReferringPhysicianName = "FAKEREFDOC^ALICE"
    ds.PerformingPhysicianName = "FAKEPERFDOC^BOB"
    ds.NameOfPhysiciansReadingStudy = "FAKEREADER^CAROL"
    ds.OperatorsName = "FAKEOPERATOR^DAVE"
    ds.PhysiciansOfRecord = "FAKERECORD^FRANK"
    ds.RequestingPhysician = "FAKEREQDOC^GRACE"
    ds.StationName = "FAKESTATION9"
    ds.StudyDescription = f"CT chest {patient_id} for {patient_name}"
    ds.SeriesDescription = f"Series read by FAKEREADER^CAROL at {FAKE_INSTITUTION}"
    ds.ImageComments = f"Patient {name_words}, accession FAKEACC00042"
    ds.ProtocolName = "FAKEREFDOC^ALICE chest protocol"
    # Dates and times
    ds.StudyDate = study_date
    ds.SeriesDate = series_date
    ds.AcquisitionDate = ACQUISITION_DATE
    ds.ContentDate = CONTENT_DATE
    ds.InstanceCreationDate = CREATION_DATE
    ds.AcquisitionDateTime = ACQUISITION_DATETIME
    # UIDs
    ds.StudyInstanceUID = uids["study"]
    ds.SeriesInstanceUID = uids["series"]
    ds.SOPInstanceUID = uids["sop"]
    ds.FrameOfReferenceUID = uids["frame"]
    ds.InstanceCreatorUID = uids["creator"]
    # Three levels: RequestAttributesSequence -> ScheduledProtocolCodeSequence ->
    # ProtocolContextSequence; plus a ReferencedStudySequence beside it.
    context = _item(
        ValueType="PNAME",
        PersonName="FAKEOBSERVER^EVE",
        DateTime="20030417101500",
        TextValue=f"Observer note on {patient_id}",
    )
    protocol = _item(
        CodeValue="FAKE01",
        CodingSchemeDesignator="99FAKE",
        CodeMeaning="Fake protocol",
        ProtocolContextSequence=Sequence([context]),
    )
    request = _item(
        RequestedProcedureID="FAKEPROC123",
        ScheduledProcedureStepID="FAKESPS456",
        AccessionNumber="FAKEACC00042",
        RequestedProcedureDescription=f"Requested for {patient_name}",
        ScheduledProcedureStepStartDate=SPS_DATE,
        ScheduledProtocolCodeSequence=Sequence([protocol]),
        ReferencedStudySequence=Sequence(
            [
                _item(
                    ReferencedSOPClassUID="1.2.840.10008.3.1.2.3.1",
                    ReferencedSOPInstanceUID=uids["study"],
                )
            ]
        ),
    )
    ds.RequestAttributesSequence = Sequence([request])
    ds.ReferencedStudySequence = Sequence(
        [
            _item(
                ReferencedSOPClassUID="1.2.840.10008.3.1.2.3.1",
                ReferencedSOPInstanceUID=uids["study"],
            )
        ]
    )
    # Kept reference sequences (UIDs mapped), nested three levels, with names inside.
    innermost = _item(
        ReferencedSOPClassUID=CT_IMAGE_STORAGE,
        ReferencedSOPInstanceUID=uids["nested"],
        OperatorsName="FAKEOPERATOR^DAVE",
        PatientBirthDate=BIRTH_DATE,
    )
    source = _item(
        ReferencedSOPClassUID=CT_IMAGE_STORAGE,
        ReferencedSOPInstanceUID=uids["source"],
        ReferencedImageSequence=Sequence([innermost]),
        PatientName=patient_name,
    )
    ds.ReferencedImageSequence = Sequence(
        [
            _item(
                ReferencedSOPClassUID=CT_IMAGE_STORAGE,
                ReferencedSOPInstanceUID=uids["referenced"],
                SourceImageSequence=Sequence([source]),
                InstitutionName=FAKE_INSTITUTION,
                StudyDate=study_date,
            )
        ]
    )
    ds.SourceImageSequence = Sequence(
        [_item(ReferencedSOPClassUID=CT_IMAGE_STORAGE, ReferencedSOPInstanceUID=uids["source"])]
    )
    # Structured content two levels deep.
    ds.ContentSequence = Sequence(
        [
            _item(
                ValueType="CONTAINER",
                ContentSequence=Sequence(
                    [
                        _item(
                            ValueType="TEXT",
                            TextValue=f"Dictated by FAKEREFDOC^ALICE about {patient_id}",
                        ),
                        _item(ValueType="PNAME", PersonName="FAKEOBSERVER^EVE"),
                    ]
                ),
            )
        ]
    )
    # Private blocks: creators holding PHI, values holding PHI, a private sequence.
    ds.add_new(0x00290010, "LO", "FAKEPRIVCREATOR " + patient_id)
    ds.add_new(0x00291001, "LO", patient_id)
    ds.add_new(0x00291002, "PN", patient_name)
    ds.add_new(0x00290011, "LO", "FAKEPRIVCREATOR SEQ")
    nested_private = Dataset()
    nested_private.add_new(0x00290010, "LO", "FAKEPRIVCREATOR NESTED")
    nested_private.add_new(0x00291003, "LO", "FAKEPRIVNESTED99")
    nested_private.PatientName = patient_name
    ds.add_new(0x00291101, "SQ", Sequence([nested_private]))
    # An overlay whose label is identifying; the whole group must go with its data.
    ds.add_new(0x60000010, "US", 8)
    ds.add_new(0x60000011, "US", 8)
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60001500, "LO", "FAKEOVERLAYLABEL")
    ds.add_new(0x60003000, "OW", b"\xff" * 8)
    # An icon whose pixels spell something.
    icon = _item(
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
        Rows=4,
        Columns=6,
        BitsAllocated=8,
        BitsStored=8,
        HighBit=7,
        PixelRepresentation=0,
    )
    icon.PixelData = b"FAKEICONPIXELTEXT".ljust(24, b"\0")
    icon["PixelData"].VR = "OB"
    ds.IconImageSequence = Sequence([icon])
    modified = _item(PatientName="FAKEORIGINAL^NAME", PatientID=patient_id)
    ds.OriginalAttributesSequence = Sequence(
        [
            _item(
                ModifiedAttributesSequence=Sequence([modified]),
                AttributeModificationDateTime="20030417101500",
                ModifyingSystem="FAKEMODSYSTEM",
                SourceOfPreviousValues=FAKE_INSTITUTION,
                ReasonForTheAttributeModification="COERCE",
            )
        ]
    )
    signature = _item(
        MACIDNumber=1,
        DigitalSignatureUID=uids["signature"],
        DigitalSignatureDateTime="20030417101500",
        CertificateType="X509_1993_SIG",
        CertificateOfSigner=b"FAKESIGNERCERT" + patient_id.encode("ascii", "replace"),
        Signature=b"\x01\x02\x03\x04",
    )
    ds.DigitalSignaturesSequence = Sequence([signature])
    return PhiDataset(dataset=ds, planted=planted, uids=uids)


# -- hand-built bytes (hostile input) ----------------------------------------------------

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
LONG_VRS = {"OB", "OW", "SQ", "UN", "UT", "UC", "UR", "OD", "OF", "OL", "OV", "SV", "UV"}


def element(tag: int, vr: str, value: bytes, *, implicit: bool = False) -> bytes:
    """One little-endian element, explicit VR unless ``implicit``."""
    head = struct.pack("<HH", tag >> 16, tag & 0xFFFF)
    if implicit:
        return head + struct.pack("<L", len(value)) + value
    if vr in LONG_VRS:
        return head + vr.encode() + struct.pack("<HL", 0, len(value)) + value
    return head + vr.encode() + struct.pack("<H", len(value)) + value


def part10(dataset: bytes, transfer_syntax: str = EXPLICIT_LE) -> bytes:
    meta = encode_file_meta(
        sop_class=CT_STORAGE, sop_instance="1.2.3.4", transfer_syntax=transfer_syntax
    )
    return b"\0" * 128 + b"DICM" + meta + dataset


def minimal(*, implicit: bool = False) -> bytes:
    """SOP Class and Instance UIDs and a patient name: the least the pipeline accepts."""
    return b"".join(
        (
            element(0x00080016, "UI", CT_STORAGE.encode() + b"\0", implicit=implicit),
            element(0x00080018, "UI", b"1.2.3.4\0", implicit=implicit),
            element(0x00100010, "PN", b"FAKE^HOSTILE", implicit=implicit),
        )
    )


def nested(depth: int, *, implicit: bool = False, defined: bool = False) -> bytes:
    """``depth`` Referenced Image Sequences, each in the single item of the one above."""
    inner = element(0x00100010, "PN", b"FAKE^DEEP", implicit=implicit)
    for _ in range(depth):
        if defined:
            item = struct.pack("<HHL", 0xFFFE, 0xE000, len(inner)) + inner
            inner = element(0x00081140, "SQ", item, implicit=implicit)
        else:
            item = (
                struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF)
                + inner
                + struct.pack("<HHL", 0xFFFE, 0xE00D, 0)
            )
            head = struct.pack("<HH", 0x0008, 0x1140)
            head += (
                struct.pack("<L", 0xFFFFFFFF)
                if implicit
                else b"SQ" + struct.pack("<HL", 0, 0xFFFFFFFF)
            )
            inner = head + item + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    return minimal(implicit=implicit) + inner


def sequence_item(*elements: bytes, undefined: bool = False) -> bytes:
    """One little-endian item holding ``elements``, with its length or delimited."""
    content = b"".join(elements)
    if undefined:
        head = struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF)
        return head + content + struct.pack("<HHL", 0xFFFE, 0xE00D, 0)
    return struct.pack("<HHL", 0xFFFE, 0xE000, len(content)) + content


def sequence_element(tag: int, items: bytes, *, implicit: bool, undefined: bool) -> bytes:
    """A little-endian sequence of ``items``: with its length, or delimited."""
    if not undefined:
        return element(tag, "SQ", items, implicit=implicit)
    head = struct.pack("<HH", tag >> 16, tag & 0xFFFF)
    head += struct.pack("<L", 0xFFFFFFFF) if implicit else b"SQ" + struct.pack("<HL", 0, 0xFFFFFFFF)
    return head + items + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)


def functional_groups(frames: int, *, implicit: bool = False, undefined: bool = False) -> bytes:
    """A Per-Frame Functional Groups Sequence, every other item delimited; the sequences
    with defined lengths, or all delimited (``undefined``), as many scanners write them.
    Per frame: fake frame date-times, a stack ID, an index, a position and a referenced
    source image UID."""

    def sequence(tag: int, items: bytes) -> bytes:
        return sequence_element(tag, items, implicit=implicit, undefined=undefined)

    items = []
    for frame in range(frames):
        content = sequence_item(
            element(0x00189074, "DT", b"20030417101500", implicit=implicit),
            element(0x00189151, "DT", b"20030417101501", implicit=implicit),
            element(0x00209056, "SH", b"FAKESTACK1", implicit=implicit),
            element(0x00209057, "UL", struct.pack("<L", frame + 1), implicit=implicit),
        )
        position = sequence_item(
            element(0x00200032, "DS", b"0\\0\\%d " % (frame % 10), implicit=implicit)
        )
        source = sequence_item(
            element(0x00081150, "UI", CT_STORAGE.encode() + b"\0", implicit=implicit),
            element(
                0x00081155,
                "UI",
                f"{UID_ROOT}.5.{frame}".encode().ljust(40, b"\0"),
                implicit=implicit,
            ),
        )
        derivation = sequence_item(sequence(0x00082112, source))
        items.append(
            sequence_item(
                sequence(0x00089124, derivation),
                sequence(0x00209111, content),
                sequence(0x00209113, position),
                undefined=frame % 2 == 1,
            )
        )
    return sequence(0x52009230, b"".join(items))


def enhanced_multiframe(frames: int, *, implicit: bool = False, undefined: bool = False) -> bytes:
    """A Part 10 file: the minimal header plus :func:`functional_groups` (no pixel data)
    and a Patient Comments after it (to check reading resumes after the sequence)."""
    syntax = IMPLICIT_LE if implicit else EXPLICIT_LE
    groups = functional_groups(frames, implicit=implicit, undefined=undefined)
    comments = element(0x00104000, "LT", b"FAKE COMMENT AFTER THE FRAMES", implicit=implicit)
    return part10(minimal(implicit=implicit) + groups + comments, syntax)


# -- anonymizers -------------------------------------------------------------------------


@lru_cache(maxsize=32)
def compiled(profile: str) -> CompiledProfile:
    """A shipped (or YAML file) profile, compiled once per test session."""
    return compile_profile(load_profile(profile))


def anonymizer_for(
    profile: str | Path = "basic",
    *,
    key: PseudonymKey = KEY,
    limits: Limits | None = None,
) -> Anonymizer:
    """An Anonymizer for a profile name or YAML path, with the test key."""
    target = compiled(str(profile))
    return Anonymizer(profile=target, key=key, limits=limits)


def anonymize_bytes(
    data: bytes | str | Path, profile: str | Path = "basic", *, key: PseudonymKey = KEY
) -> bytes:
    """Run ``data`` through the pipeline and return the output bytes."""
    out = io.BytesIO()
    source = data if isinstance(data, bytes) else str(data)
    anonymizer_for(profile, key=key).anonymize(source, out)
    return out.getvalue()


def write_profile(folder: Path, name: str, body: str) -> Path:
    """Write a custom YAML profile and return its path."""
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\n{body}", "utf-8")
    return path


# -- looking for leaks -------------------------------------------------------------------


def encodings_of(ds: Dataset) -> tuple[str, ...]:
    """The Python codecs of a data set's character sets, plus ASCII and UTF-8."""
    charset = getattr(ds, "_character_set", None) or []
    return tuple(dict.fromkeys([*charset, "ascii", "utf-8"]))


def leaked(
    output: bytes, values: Iterable[str], encodings: Iterable[str] = ("utf-8",)
) -> list[str]:
    """The values found anywhere in ``output`` (any case, any of the encodings)."""
    lowered = output.lower()
    found = []
    encodings = tuple(encodings)
    for value in values:
        for encoding in encodings:
            try:
                needle = value.encode(encoding).lower()
            except (UnicodeEncodeError, LookupError):
                continue
            if needle and needle in lowered:
                found.append(value)
                break
    return found


_UID_TOKENS = re.compile(rb"[0-9][0-9.]*[0-9]")


def leaked_uids(output: bytes, uids: Iterable[str]) -> list[str]:
    """The original UIDs present as whole UIDs in ``output``."""
    tokens = {m.group(0) for m in _UID_TOKENS.finditer(output)}
    return [u for u in uids if u.encode("ascii") in tokens]


def walk(ds: Dataset, prefix: str = "") -> Iterable[tuple[str, Dataset, int]]:
    """(path, parent data set, tag) of every element, at every depth."""
    for elem in ds:
        path = f"{prefix}({elem.tag.group:04X},{elem.tag.element:04X})"
        yield path, ds, int(elem.tag)
        if elem.VR == "SQ" and elem.value is not None:
            for i, item in enumerate(elem.value):
                yield from walk(item, f"{path}[{i}]/")
