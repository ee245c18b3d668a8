"""Scenario: 100 different patients get 100 different pseudonyms, names and UIDs."""

from __future__ import annotations

import io

import pydicom
from factories import anonymizer_for, make_phi_dataset, uid

PATIENTS = 100


def test_hundred_patients_never_collide() -> None:
    anonymizer = anonymizer_for("research")
    ids, names, studies, shifts = set(), set(), set(), set()
    for n in range(PATIENTS):
        phi = make_phi_dataset(
            patient_id=f"FAKE-MRN-{n:04d}",
            patient_name=f"FAKE^PATIENT^N{n:03d}",
            study_uid=uid(f"20.{n}"),
            sop_uid=uid(f"21.{n}"),
            series_uid=uid(f"22.{n}"),
        )
        buffer = io.BytesIO()
        result = anonymizer.anonymize(phi.to_bytes(), buffer)
        out = pydicom.dcmread(io.BytesIO(buffer.getvalue()))
        assert out.PatientID == result.patient_pseudonym
        ids.add(out.PatientID)
        names.add(str(out.PatientName))
        studies.add(out.StudyInstanceUID)
        shifts.add(out.StudyDate)
    assert len(ids) == PATIENTS
    assert len(names) == PATIENTS
    assert len(studies) == PATIENTS
    # Shifts are spread over two years: 100 patients do not all share a handful of them.
    assert len(shifts) > PATIENTS // 2


def test_same_id_from_two_issuers_is_two_patients() -> None:
    outs = []
    for issuer in ("FAKEISSUER-A", "FAKEISSUER-B"):
        phi = make_phi_dataset(patient_id="FAKE-12345")
        phi.dataset.IssuerOfPatientID = issuer
        buffer = io.BytesIO()
        outs.append(anonymizer_for("basic").anonymize(phi.to_bytes(), buffer).patient_pseudonym)
    assert outs[0] != outs[1]
