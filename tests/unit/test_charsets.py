"""Names in other scripts and character sets are gone in every encoding; output decodes cleanly.

The Korean files are chrI2.dcm and chrKoreanMulti.dcm (ISO 2022 IR 149); the names are
decoded with pydicom first, then looked for as EUC-KR, in the ISO 2022 escape form the input
used, and as UTF-8.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pydicom
import pytest
from factories import anonymizer_for, to_bytes, write_profile
from pydicom.charset import convert_encodings, encode_string
from pydicom.data import get_charset_files
from pydicom.dataset import Dataset
from pydicom.valuerep import PersonName

from anonymizer.errors import LeakDetected

CHARSET_FILES = {Path(p).name: p for p in get_charset_files() if p.endswith(".dcm")}
IDENTIFYING = (
    "PatientName",
    "OtherPatientNames",
    "OperatorsName",
    "AdditionalPatientHistory",
    "PatientID",
    "StudyID",
)
KOREAN_NAMES = {"chrI2.dcm": "홍^길동", "chrKoreanMulti.dcm": "김희중"}
KOREAN_ENCODINGS = ("euc_kr", "iso2022_kr", "utf-8")


def _texts(value: object) -> set[str]:
    """A value, its name groups and components, and their spaced and joined forms."""
    if isinstance(value, list | tuple | pydicom.multival.MultiValue):
        return set().union(*(_texts(v) for v in value)) if value else set()
    text = str(value).strip()
    out = {text} if text else set()
    if isinstance(value, PersonName):
        for group in text.split("="):
            parts = [p for p in group.split("^") if p]
            out.update({group, " ".join(parts), "".join(parts)})
            out.update(p for p in parts if len(p) >= 2)
    return {t for t in out if t and t.strip("^= ")}


def _identifying(ds: Dataset) -> set[str]:
    found: set[str] = set()
    for keyword in IDENTIFYING:
        for elem in ds.iterall():
            if elem.keyword == keyword and elem.value:
                found |= _texts(elem.value)
    return found


def _forms(text: str, encodings: list[str]) -> set[bytes]:
    """``text`` in every encoding it could have been written in."""
    forms = set()
    for encoding in {*encodings, *KOREAN_ENCODINGS, "latin-1"}:
        try:
            encoded = text.encode(encoding)
        except (UnicodeEncodeError, LookupError):
            continue
        # iso2022_kr starts with a header and shifts; the bytes between are what we look for.
        forms.add(encoded.replace(b"\x1b$)C", b"").replace(b"\x0e", b"").replace(b"\x0f", b""))
    with contextlib.suppress(UnicodeEncodeError, LookupError):
        forms.add(encode_string(text, encodings))  # the DICOM escape form
    return {f for f in forms if len(f) >= 2}


def _header(output: bytes, source: Dataset) -> bytes:
    """The output without the (unchanged) pixel data, whose bytes may match anything."""
    pixels = source.get("PixelData")
    return output.replace(pixels, b"") if pixels else output


def _encodings(ds: Dataset) -> list[str]:
    """Python codecs of every Specific Character Set in ``ds``, items included."""
    found: list[str] = []
    for elem in ds.iterall():
        if elem.keyword == "SpecificCharacterSet":
            found += convert_encodings(elem.value or "ISO_IR 6")
    return list(dict.fromkeys(found or ["iso8859"]))


def _hits(output: bytes, source: Dataset, texts: set[str]) -> list[str]:
    encodings = _encodings(source)
    lowered = _header(output, source).lower()
    return sorted(t for t in texts if any(f.lower() in lowered for f in _forms(t, encodings)))


def _run(data: bytes | str, profile: str) -> bytes:
    out = io.BytesIO()
    anonymizer_for(profile).anonymize(data, out)
    return out.getvalue()


def _decodes_cleanly(output: bytes) -> Dataset:
    ds = pydicom.dcmread(io.BytesIO(output))
    for elem in ds.iterall():  # filterwarnings=error turns a decode warning into a failure
        value = elem.value
        if isinstance(value, str | PersonName):
            assert "\ufffd" not in str(value), elem.keyword
    return ds


def _source(name: str) -> Dataset:
    ds = pydicom.dcmread(CHARSET_FILES[name])
    for elem in ds.iterall():
        _ = elem.value
    return ds


def _processable(name: str) -> bytes:
    """The file, with the SOP UIDs the pipeline requires added where it has none."""
    ds = pydicom.dcmread(CHARSET_FILES[name])
    if "SOPInstanceUID" in ds and "SOPClassUID" in ds:
        return Path(CHARSET_FILES[name]).read_bytes()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.990.77"
    return to_bytes(ds)


def test_korean_files_are_there() -> None:
    assert {"chrI2.dcm", "chrKoreanMulti.dcm", "chrX1.dcm", "chrX2.dcm"} <= set(CHARSET_FILES)
    assert str(_source("chrI2.dcm").PatientName).endswith("=홍^길동")
    assert str(_source("chrKoreanMulti.dcm").PatientName) == "김희중"


@pytest.mark.parametrize("profile", ["basic", "research", "keep-list"])
@pytest.mark.parametrize("name", sorted(CHARSET_FILES))
def test_names_gone_in_every_encoding(name: str, profile: str) -> None:
    source = _source(name)
    texts = _identifying(source)
    assert texts, "every charset file names its patient"
    raw = _processable(name)
    assert _hits(raw, source, texts), "the forms looked for are the forms the input used"
    output = _run(raw, profile)
    assert _hits(output, source, texts) == []
    out = _decodes_cleanly(output)
    assert out.get("SpecificCharacterSet") == source.get("SpecificCharacterSet")


@pytest.mark.parametrize("name", sorted(KOREAN_NAMES))
def test_korean_name_bytes_absent(name: str) -> None:
    korean = KOREAN_NAMES[name]
    raw = Path(CHARSET_FILES[name]).read_bytes()
    family = korean.split("^")[0]
    assert family.encode("euc_kr") in raw
    for profile in ("basic", "research"):
        output = _run(CHARSET_FILES[name], profile)
        for part in {korean, *korean.split("^"), korean.replace("^", "")}:
            if len(part) < 2:
                continue  # one syllable is two bytes; too short to look for
            for encoding in ("euc_kr", "utf-8"):
                assert part.encode(encoding) not in output, (profile, part, encoding)


def _utf8_korean() -> Dataset:
    """chrI2 rewritten in UTF-8 (ISO_IR 192)."""
    ds = _source("chrI2.dcm")
    ds.SpecificCharacterSet = "ISO_IR 192"
    return pydicom.dcmread(io.BytesIO(to_bytes(ds)))


def test_utf8_korean_file() -> None:
    source = _utf8_korean()
    data = to_bytes(source)
    assert "홍^길동".encode() in data
    texts = _identifying(source)
    for profile in ("basic", "research"):
        output = _run(data, profile)
        assert _hits(output, source, texts) == []
        assert _decodes_cleanly(output).SpecificCharacterSet == "ISO_IR 192"


@pytest.mark.parametrize("utf8", [False, True], ids=["iso2022", "utf8"])
def test_research_keeps_korean_description_decodable(utf8: bool) -> None:
    source = _utf8_korean() if utf8 else _source("chrI2.dcm")
    source.StudyDescription = "흉부 CT 검사"
    source.SeriesDescription = "홍길동 흉부 CT"  # the name written the usual way, unspaced
    source.ImageComments = "환자 홍길동님 검사"
    output = _run(to_bytes(source), "research")
    out = _decodes_cleanly(output)
    assert out.StudyDescription == "흉부 CT 검사"
    assert "흉부 CT" in out.SeriesDescription
    assert "검사" in out.ImageComments
    for text in ("홍길동", "길동"):
        for encoding in ("euc_kr", "utf-8"):
            assert text.encode(encoding) not in output


def test_research_japanese_description_without_spaces() -> None:
    source = _source("chrH31.dcm")
    source.StudyDescription = "山田太郎 胸部CT"
    output = _run(to_bytes(source), "research")
    out = _decodes_cleanly(output)
    assert "胸部CT" in out.StudyDescription
    assert "山田" not in out.StudyDescription
    assert _hits(output, source, {"山田太郎", "山田"}) == []


def test_korean_multi_values_and_free_text() -> None:
    source = _source("chrKoreanMulti.dcm")
    assert source.AdditionalPatientHistory == "김희중"
    output = _run(CHARSET_FILES["chrKoreanMulti.dcm"], "research")
    out = _decodes_cleanly(output)
    assert "김희중" not in str(out.get("AdditionalPatientHistory", ""))
    assert "OtherPatientNames" not in out
    assert str(out.OperatorsName) == ""


def test_verify_catches_unspaced_korean_name_in_kept_text(tmp_path: Path) -> None:
    # A profile that keeps a descriptor as is: the leak check must still know "홍길동".
    profile = write_profile(
        tmp_path, "keepdesc", "extends: basic\nattributes:\n  SeriesDescription: keep\n"
    )
    for utf8 in (False, True):
        source = _utf8_korean() if utf8 else _source("chrI2.dcm")
        source.SeriesDescription = "홍길동 흉부 CT"
        with pytest.raises(LeakDetected) as caught:
            anonymizer_for(profile).anonymize(to_bytes(source), io.BytesIO())
        assert caught.value.paths == ["(0008,103E)"]
