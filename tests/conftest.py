"""Shared fixtures. The factories themselves live in ``tests/factories.py``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from factories import KEY, PhiDataset, anonymizer_for, make_phi_dataset

from anonymizer import Anonymizer, Limits, PseudonymKey


@pytest.fixture
def key() -> PseudonymKey:
    """The test pseudonym key (never used outside tests)."""
    return KEY


@pytest.fixture(name="anonymizer_for")
def anonymizer_for_fixture() -> Callable[..., Anonymizer]:
    """``anonymizer_for(profile, key=..., limits=...)`` with the test key by default."""

    def build(
        profile: str | Path = "basic",
        *,
        key: PseudonymKey = KEY,
        limits: Limits | None = None,
    ) -> Anonymizer:
        return anonymizer_for(profile, key=key, limits=limits)

    return build


@pytest.fixture
def phi() -> PhiDataset:
    """A CT with fake PHI planted everywhere (see ``factories.make_phi_dataset``)."""
    return make_phi_dataset()
