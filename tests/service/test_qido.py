"""QIDO-RS searches on the de-identified catalogue: matching kinds, paging, warnings."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from privacy_helpers import ct, upload
from service_helpers import Keys, auth


@pytest.fixture
def stored(client: TestClient, keys: Keys) -> list[dict[str, Any]]:
    """Three studies of two fake patients, one instance each."""
    return [
        upload(client, keys.upload, ct(patient_id=f"FAKE-QIDO-{p}", study=s, sop=s))
        for p, s in (("A", "1"), ("A", "2"), ("B", "3"))
    ]


def _studies(client: TestClient, keys: Keys, query: str) -> tuple[int, list[str], list[str]]:
    response = client.get(f"/dicomweb/studies?{query}", headers=auth(keys.read))
    answers = response.json() if response.status_code == 200 else []
    uids = sorted(a["0020000D"]["Value"][0] for a in answers)
    return response.status_code, uids, response.headers.get_list("Warning")


def test_wildcard_on_the_pseudonymous_name(
    client: TestClient, keys: Keys, stored: list[dict[str, Any]]
) -> None:
    answer = client.get(
        f"/dicomweb/studies?StudyInstanceUID={stored[0]['study_instance_uid']}",
        headers=auth(keys.read),
    ).json()
    name = answer[0]["00100010"]["Value"][0]["Alphabetic"]
    pattern = f"{name[:3].lower()}*{name[-6:-1]}?"  # ANON^... of patient A, any case
    status, uids, warnings = _studies(client, keys, f"PatientName={pattern}")
    assert status == 200 and not warnings
    assert uids == sorted(s["study_instance_uid"] for s in stored[:2])  # patient A only
    assert _studies(client, keys, "PatientName=NOBODY*")[1] == []


def test_uid_lists_and_the_sql_path(
    client: TestClient, keys: Keys, stored: list[dict[str, Any]]
) -> None:
    first, _, third = (s["study_instance_uid"] for s in stored)
    assert _studies(client, keys, f"StudyInstanceUID={first},{third}")[1] == sorted([first, third])
    assert _studies(client, keys, f"0020000D={third}")[1] == [third]  # by tag
    assert len(_studies(client, keys, "Modality=CT")[1]) == 3
    assert _studies(client, keys, "Modality=MR")[1] == []


def test_dates_the_profile_emptied_match_no_range(
    client: TestClient, keys: Keys, stored: list[dict[str, Any]]
) -> None:
    # The basic profile empties Study Date: no study falls in any range, all match universally.
    assert _studies(client, keys, "StudyDate=19000101-")[1] == []
    assert len(_studies(client, keys, "StudyDate=")[1]) == 3


def test_unsupported_parameters_are_ignored_with_a_warning(
    client: TestClient, keys: Keys, stored: list[dict[str, Any]]
) -> None:
    status, uids, warnings = _studies(client, keys, "SeriesDescription=x&fuzzymatching=true")
    assert status == 200 and len(uids) == 3
    assert any("SeriesDescription query parameter is not supported" in w for w in warnings)
    assert any(w.startswith("299 ") and "fuzzymatching" in w for w in warnings)
    _, _, warnings = _studies(client, keys, "FAKE-QIDO-A=1")
    assert warnings and not any("FAKE-QIDO-A" in w for w in warnings)  # never echoed


def test_paging_and_malformed_ranges(
    client: TestClient, keys: Keys, stored: list[dict[str, Any]]
) -> None:
    everything = _studies(client, keys, "")[1]
    pages = [_studies(client, keys, f"limit=1&offset={n}")[1] for n in range(3)]
    assert sorted(uid for page in pages for uid in page) == everything
    status, _, _ = _studies(client, keys, "StudyDate=2020-01-01")
    assert status == 400
