"""The web service: upload and DICOMweb doors in front of the ``anonymizer`` library."""
