"""Errors raised by the library.

Every message names tags, rule ids, line numbers or our own job ids, never an element
value, so an error can be logged or returned to a client without leaking anything::

    DeidError
      ProfileError: ProfileNotFound, ProfileInvalid
      KeyError_: KeyMissing, KeyInvalid
      InputError(ValueError): NotDicom, MalformedDicom, UnsupportedTransferSyntax,
                              NestingTooDeep, InflatedTooLarge, ElementTooLong, TooLarge
      VerificationFailed: LeakDetected
      PixelError: BurnedInTextUnresolved
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Machine-readable rejection reasons, stable across releases."""

    NOT_DICOM = "not_dicom"
    MALFORMED = "malformed_dicom"
    UNSUPPORTED_TRANSFER_SYNTAX = "unsupported_transfer_syntax"
    NESTING_TOO_DEEP = "nesting_too_deep"
    INFLATED_TOO_LARGE = "inflated_too_large"
    ELEMENT_TOO_LONG = "element_length_exceeds_file"
    TOO_LARGE = "too_large"
    LEAK_DETECTED = "identifying_value_in_output"
    VERIFICATION_FAILED = "verification_failed"
    PIXEL_CLEANING_REQUIRED = "pixel_cleaning_required"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    STORAGE_ERROR = "storage_error"
    OBJECT_NOT_FOUND = "not_found"
    OBJECT_CONFLICT = "object_conflict"
    LEDGER_UNAVAILABLE = "ledger_unavailable"
    LEDGER_CORRUPTED = "ledger_corrupted"


class DeidError(Exception):
    """Base class of every error the library raises on purpose."""

    reason: Reason = Reason.VERIFICATION_FAILED


class ProfileError(DeidError):
    """A profile could not be found or is invalid."""


class ProfileNotFound(ProfileError):  # noqa: N818 - the tree in STYLE.md names it so
    """No profile of that name is shipped or on the search path."""


class ProfileInvalid(ProfileError):  # noqa: N818
    """A profile failed validation; the message names the file, line and problem."""


class KeyProblem(DeidError):
    """The pseudonym key is missing or unusable."""


class KeyMissing(KeyProblem):  # noqa: N818
    """No key was given and no throw-away key was asked for."""


class KeyInvalid(KeyProblem):  # noqa: N818
    """The key file could not be read or is too short."""


class InputError(DeidError, ValueError):
    """The input object cannot be de-identified; it is rejected whole."""

    reason = Reason.MALFORMED


class NotDicom(InputError):  # noqa: N818
    """The bytes are not a DICOM Part 10 file or a bare DICOM data set."""

    reason = Reason.NOT_DICOM


class MalformedDicom(InputError):  # noqa: N818
    """The file looks like DICOM but cannot be parsed safely."""

    reason = Reason.MALFORMED


class UnsupportedTransferSyntax(InputError):  # noqa: N818
    """The transfer syntax cannot be read or written losslessly."""

    reason = Reason.UNSUPPORTED_TRANSFER_SYNTAX


class NestingTooDeep(InputError):  # noqa: N818
    """Sequences are nested deeper than the configured cap."""

    reason = Reason.NESTING_TOO_DEEP


class InflatedTooLarge(InputError):  # noqa: N818
    """A Deflated data set inflates past the configured cap."""

    reason = Reason.INFLATED_TOO_LARGE


class ElementTooLong(InputError):  # noqa: N818
    """An element declares a length larger than the file holds."""

    reason = Reason.ELEMENT_TOO_LONG


class TooLarge(InputError):  # noqa: N818
    """The object is larger than the configured cap."""

    reason = Reason.TOO_LARGE


class VerificationFailed(DeidError):  # noqa: N818
    """The verify stage could not prove the output clean."""

    reason = Reason.VERIFICATION_FAILED


class LeakDetected(VerificationFailed):
    """An identifying value of the input was found in the output.

    ``paths`` holds the tag paths of the offending elements, never their values.
    """

    reason = Reason.LEAK_DETECTED

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        shown = ", ".join(paths[:5]) + (" ..." if len(paths) > 5 else "")
        super().__init__(f"identifying value of the input found in the output at {shown}")


class PixelError(DeidError):
    """Pixel data could not be cleaned as the profile requires."""

    reason = Reason.PIXEL_CLEANING_REQUIRED


class BurnedInTextUnresolved(PixelError):  # noqa: N818
    """The profile asks for pixel cleaning and it could not be done."""


class StorageError(DeidError):
    """The storage backend refused or failed an operation."""

    reason = Reason.STORAGE_ERROR


class ObjectNotFound(StorageError):  # noqa: N818
    """No object under that key."""

    reason = Reason.OBJECT_NOT_FOUND


class ObjectConflict(StorageError):  # noqa: N818
    """A different object is already stored under that key; it was not overwritten."""

    reason = Reason.OBJECT_CONFLICT


class StorageUnavailable(StorageError):  # noqa: N818
    """The backend cannot be reached; nothing was stored."""

    reason = Reason.STORAGE_UNAVAILABLE


class LedgerError(DeidError):
    """The transfer ledger refused or failed an operation."""

    reason = Reason.LEDGER_UNAVAILABLE


class LedgerCorrupted(LedgerError):  # noqa: N818
    """The hash chain does not verify."""

    reason = Reason.LEDGER_CORRUPTED
