"""One object through every stage: read, header, (pixels), verify, write.

Nothing is written to the destination until the verify stage has passed, and a failure at
any stage rejects the object whole with a specific reason.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from pydicom import config as pydicom_config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRBigEndian, ImplicitVRLittleEndian

from anonymizer._elements import Element, elements_of
from anonymizer.dicom_file import DicomInput, Limits, encode_header, read_dicom
from anonymizer.encode import encode_dataset
from anonymizer.errors import BurnedInTextUnresolved, DeidError, MalformedDicom, TooLarge
from anonymizer.header import deidentify_header
from anonymizer.keys import PseudonymKey
from anonymizer.pixel_policy import cleaning_required
from anonymizer.profiles import CompiledProfile, compile_profile, load_profile
from anonymizer.pseudonyms import Pseudonymizer
from anonymizer.verify import verify_output

if TYPE_CHECKING:
    from anonymizer.pixels.stage import PixelResult

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

_PIXEL_DATA = 0x7FE00010
_quiet_lock = threading.Lock()
_quiet_users = 0
_saved_modes: tuple[int | None, int | None] = (None, None)


@contextmanager
def _quiet_pydicom() -> Iterator[None]:
    """Keep element values out of logs: pydicom's value validation logs and warns them.

    pydicom's ``warn_and_log`` sends "Invalid value for VR DA: '<value>'" to the ``pydicom``
    logger and to ``warnings``. Validation is off while any object is being processed
    (counted, because the setting is global and several threads may be in here at once);
    pydicom's remaining warnings name no values and are not shown either.
    """
    global _quiet_users, _saved_modes  # noqa: PLW0603 - one process-wide pydicom setting
    settings = pydicom_config.settings
    with _quiet_lock:
        if _quiet_users == 0:
            _saved_modes = (
                settings._reading_validation_mode,
                settings._writing_validation_mode,
            )
            settings.reading_validation_mode = pydicom_config.IGNORE
            settings.writing_validation_mode = pydicom_config.IGNORE
        _quiet_users += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        with _quiet_lock:
            _quiet_users -= 1
            if _quiet_users == 0:
                settings._reading_validation_mode, settings._writing_validation_mode = _saved_modes


@dataclass
class ObjectResult:
    """What happened to one object. Holds pseudonymized UIDs and counts, never input values."""

    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    sop_class_uid: str
    transfer_syntax: str
    patient_pseudonym: str | None
    removed: int
    replaced: int
    emptied: int
    uids_mapped: int
    dates_shifted: int
    private_removed: int
    private_kept: int
    pixels_cleaned: bool
    size: int
    sha256: str
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        # Flat fields: a shallow copy (dataclasses.asdict deep-copies, ~4x slower per file).
        values = dict(self.__dict__)
        values["warnings"] = list(self.warnings)
        return values


def _encode_pixels(element: Element, syntax: UID) -> bytes:
    """The pixel data element in ``syntax``; encapsulated data has undefined length."""
    if syntax.is_compressed and isinstance(element, DataElement):
        element.is_undefined_length = True
    holder = Dataset()
    elements_of(holder)[_PIXEL_DATA] = element
    implicit = syntax == ImplicitVRLittleEndian
    return encode_dataset(holder, implicit=implicit, little=syntax != ExplicitVRBigEndian)


def _pixel_warnings(cleaned: PixelResult | None) -> list[str]:
    if cleaned is None:
        return []
    notes = [f"pixels_cleaned:{cleaned.boxes}_boxes_in_{cleaned.frames}_frames"]
    if cleaned.lossy_recompressed:
        notes.append("pixels_recompressed_lossy")
    return notes


def _require_sop_uids(ds: Dataset) -> None:
    """SOP Class and Instance UIDs name the output; a kept one may still be raw bytes."""
    for uid_keyword in ("SOPInstanceUID", "SOPClassUID"):
        try:
            value = ds.get(uid_keyword)
        except Exception as exc:  # noqa: BLE001 - pydicom decodes lazily and raises anything
            raise MalformedDicom(f"{uid_keyword} is unreadable ({type(exc).__name__})") from None
        if not value:
            raise MalformedDicom(f"{uid_keyword} is missing")


class Anonymizer:
    """De-identify DICOM objects with one profile and one key.

    Parameters
    ----------
    profile
        A profile name, a path to a YAML profile, or a compiled profile.
    key
        The pseudonym key (see :class:`~anonymizer.keys.PseudonymKey`).
    limits
        Caps applied to untrusted input.
    """

    def __init__(
        self,
        *,
        profile: str | Path | CompiledProfile,
        key: PseudonymKey,
        limits: Limits | None = None,
    ) -> None:
        self.compiled = (
            profile
            if isinstance(profile, CompiledProfile)
            else compile_profile(load_profile(profile))
        )
        self.key = key
        self.limits = limits or Limits()
        self.pseudonyms = Pseudonymizer(key, shift_days=self.compiled.profile.dates.shift_days)

    def anonymize(
        self,
        source: str | os.PathLike[str] | bytes,
        out: BinaryIO,
        *,
        checksum: bool = True,
        on_header: Callable[[Dataset], None] | None = None,
    ) -> ObjectResult:
        """De-identify ``source`` and write the result to ``out``.

        ``out`` receives nothing unless every stage passed. With ``checksum=False`` the
        result's ``sha256`` is empty and large pixel data is copied inside the kernel.
        ``on_header`` is called with the verified, de-identified header (no pixel data)
        before anything is written, for callers that index it.
        """
        with _quiet_pydicom():
            return self._anonymize(source, out, checksum=checksum, on_header=on_header)

    def _anonymize(
        self,
        source: str | os.PathLike[str] | bytes,
        out: BinaryIO,
        *,
        checksum: bool,
        on_header: Callable[[Dataset], None] | None,
    ) -> ObjectResult:
        started = time.perf_counter()
        with read_dicom(source, self.limits) as inp:
            ds = inp.dataset
            keep_pixels = self.compiled.action_for(_PIXEL_DATA).value == "keep"
            cleaned: PixelResult | None = None
            if (
                keep_pixels
                and inp.pixels is not None
                and cleaning_required(ds, self.compiled.profile.pixels)
            ):
                cleaned = self._clean_pixels(ds, inp)
            try:
                header = deidentify_header(
                    ds,
                    compiled=self.compiled,
                    pseudonyms=self.pseudonyms,
                    max_depth=self.limits.max_depth,
                    pixels_cleaned=cleaned is not None,
                )
            except DeidError:
                raise
            except (RecursionError, MemoryError):
                raise MalformedDicom("data set too deep or too large to process") from None
            except Exception as exc:  # noqa: BLE001 - pydicom decodes lazily and raises anything
                raise MalformedDicom(f"unreadable element value ({type(exc).__name__})") from None
            _require_sop_uids(ds)
            # Pixels the stage changed are encoded apart (the leak check looks at the header
            # only); when it found nothing to mask, the input's pixel bytes are copied.
            masked = cleaned is not None and cleaned.masked_pixels > 0
            syntax = UID(cleaned.transfer_syntax) if cleaned and masked else inp.transfer_syntax
            pixel_element = elements_of(ds).pop(_PIXEL_DATA, None) if cleaned else None
            try:
                encoded = encode_header(ds, syntax)
                pixel_bytes = (
                    _encode_pixels(pixel_element, syntax) if pixel_element and masked else b""
                )
            except Exception as exc:  # noqa: BLE001 - pydicom raises anything on bad values
                raise MalformedDicom(f"cannot encode the result ({type(exc).__name__})") from None
            verify_output(encoded, ds, identifiers=header.identifiers, compiled=self.compiled)
            if on_header is not None:
                on_header(ds)
            digest = hashlib.sha256(encoded) if checksum else None
            out.write(encoded)
            size = len(encoded)
            if masked:
                out.write(pixel_bytes)
                if digest is not None:
                    digest.update(pixel_bytes)
                size += len(pixel_bytes)
            elif keep_pixels:
                size += inp.copy_pixels(out, digest)
            stats = header.stats
            result = ObjectResult(
                sop_instance_uid=str(ds.SOPInstanceUID),
                study_instance_uid=str(ds.get("StudyInstanceUID", "")),
                series_instance_uid=str(ds.get("SeriesInstanceUID", "")),
                sop_class_uid=str(ds.SOPClassUID),
                transfer_syntax=str(syntax),
                patient_pseudonym=header.patient_pseudonym,
                removed=stats.removed,
                replaced=stats.replaced,
                emptied=stats.emptied,
                uids_mapped=stats.uids_mapped,
                dates_shifted=stats.dates_shifted,
                private_removed=stats.private_removed,
                private_kept=stats.private_kept,
                pixels_cleaned=cleaned is not None,
                size=size,
                sha256=digest.hexdigest() if digest is not None else "",
                seconds=time.perf_counter() - started,
                warnings=[*inp.warnings, *stats.warnings, *_pixel_warnings(cleaned)],
            )
        logger.debug(
            "anonymized sop=%s removed=%d replaced=%d seconds=%.4f",
            result.sop_instance_uid,
            result.removed,
            result.replaced,
            result.seconds,
        )
        return result

    def _clean_pixels(self, ds: Dataset, inp: DicomInput) -> PixelResult:
        """Load the pixel data and clean burned-in text in every frame (or raise)."""
        from anonymizer.pixels.stage import PixelOptions, clean_pixels  # noqa: PLC0415 - OpenCV

        elements_of(ds).update(elements_of(inp.pixel_element()))
        settings = self.compiled.profile.pixels
        try:
            return clean_pixels(
                ds, settings=settings, options=PixelOptions(lossy_output=settings.lossy_output)
            )
        except DeidError:
            raise
        except MemoryError:
            raise TooLarge("the decoded pixel data does not fit in memory") from None
        except Exception as exc:  # noqa: BLE001 - decoders raise anything on bad data
            raise BurnedInTextUnresolved(
                f"pixel data could not be cleaned ({type(exc).__name__})"
            ) from None

    def anonymize_file(
        self, source: str | os.PathLike[str] | bytes, destination: str | os.PathLike[str]
    ) -> ObjectResult:
        """De-identify into ``destination`` atomically: a failure leaves no file behind."""
        target = Path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".partial-", suffix=".dcm")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                result = self.anonymize(source, handle)
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return result
