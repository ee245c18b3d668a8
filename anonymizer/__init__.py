"""upload-anonymizer: de-identify medical images the moment they arrive, then store them.

The library has no web framework in it. The names below are all most users need::

    from anonymizer import Anonymizer, PseudonymKey

    anonymizer = Anonymizer(profile="basic", key=PseudonymKey.from_file("deid.key"))
    result = anonymizer.anonymize_file("in.dcm", "out.dcm")
"""

from anonymizer.actions import Action, Option
from anonymizer.dicom_file import Limits
from anonymizer.errors import DeidError, InputError, LeakDetected, ProfileError
from anonymizer.keys import PseudonymKey
from anonymizer.pipeline import Anonymizer, ObjectResult
from anonymizer.profiles import CompiledProfile, compile_profile, load_profile

__version__ = "0.1.0"

__all__ = [
    "Action",
    "Anonymizer",
    "CompiledProfile",
    "DeidError",
    "InputError",
    "LeakDetected",
    "Limits",
    "ObjectResult",
    "Option",
    "ProfileError",
    "PseudonymKey",
    "__version__",
    "compile_profile",
    "load_profile",
]
