"""The PS3.15 tables in anonymizer/data: right edition, right counts, regenerable."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from anonymizer.actions import Option
from anonymizer.data import _annex_e, _safe_private

REPO = Path(__file__).resolve().parents[2]
GENERATOR = REPO / "scripts" / "generate_tables.py"
DATA = REPO / "anonymizer" / "data"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_tables", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference() -> Path:
    folder: Path = load_generator().ROOT.parent / "shared" / "reference"
    if not (folder / "ps3.15-annex-e-profile.json").is_file():
        pytest.skip(f"reference data folder {folder} is not available")
    return folder


def test_annex_e_edition_and_size() -> None:
    assert _annex_e.EDITION == "2026d"
    assert len(_annex_e.ROWS) == 657
    assert [r[0] for r in _annex_e.ROWS] == list(range(1, 658))
    assert all(len(r) == 7 + len(_annex_e.OPTION_COLUMNS) for r in _annex_e.ROWS)


def test_basic_profile_code_counts() -> None:
    counts = Counter(r[6] for r in _annex_e.ROWS)
    assert counts == {
        "X": 417,
        "D": 93,
        "U": 55,
        "Z": 42,
        "X/D": 23,
        "X/Z": 11,
        "X/Z/D": 8,
        "Z/D": 6,
        "X/Z/U*": 2,
    }


def test_retired_and_in_iod_counts() -> None:
    assert sum(1 for r in _annex_e.ROWS if r[4]) == 102
    assert sum(1 for r in _annex_e.ROWS if r[5]) == 473


def test_row_kinds_and_patterns() -> None:
    kinds = Counter(r[3] for r in _annex_e.ROWS)
    assert kinds == {"element": 653, "repeating_group": 3, "private": 1}
    patterns = sorted(r[2] for r in _annex_e.ROWS if r[3] != "element")
    assert patterns == [
        "(50xx,xxxx)",
        "(60xx,3000)",
        "(60xx,4000)",
        "(gggg,eeee) where gggg is odd",
    ]
    tags = [r[2] for r in _annex_e.ROWS if r[3] == "element"]
    assert len(set(tags)) == len(tags)


def test_option_columns_are_the_option_enum() -> None:
    assert tuple(o.value for o in Option) == _annex_e.OPTION_COLUMNS
    cells = {c for r in _annex_e.ROWS for c in r[7:]}
    assert cells == {None, "K", "C"}


def test_checks_from_the_reference_readme() -> None:
    by_tag = {r[2]: r for r in _annex_e.ROWS}
    column = {name: 7 + i for i, name in enumerate(_annex_e.OPTION_COLUMNS)}
    assert by_tag["(0010,0010)"][6] == "Z"
    assert by_tag["(0010,0020)"][6] == "Z/D"
    assert by_tag["(0020,000D)"][6] == "U"
    assert by_tag["(0020,000D)"][column["retain_uids"]] == "K"
    assert by_tag["(0008,0080)"][6] == "X/Z/D"
    assert by_tag["(0008,0022)"][column["retain_longitudinal_modified_dates"]] == "C"
    assert by_tag["(0032,1033)"][column["clean_descriptors"]] == "C"  # changed in 2026d
    assert by_tag["(0010,2160)"][4] is True  # Ethnic Group retired in 2026d
    private = by_tag["(gggg,eeee) where gggg is odd"]
    assert private[6] == "X"
    assert private[column["retain_safe_private"]] == "C"


def test_safe_private_table() -> None:
    assert len(_safe_private.ROWS) == 479
    creators = Counter(r[1] for r in _safe_private.ROWS)
    assert len(creators) == 20
    assert creators["Philips Imaging DD 001"] == 184
    assert creators["GEMS_ACQU_01"] == 4
    for group, _creator, element, _vr, _meaning in _safe_private.ROWS:
        assert group == group.upper()
        assert int(group, 16) % 2 == 1
        assert element == element.upper()
        assert len(element) == 2
    assert ("0019", "GEMS_ACQU_01", "23") in {r[:3] for r in _safe_private.ROWS}


def test_regenerating_gives_identical_files(
    reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generator = load_generator()
    monkeypatch.setattr(generator, "DATA", tmp_path)
    assert generator.main(["generate_tables.py", str(reference)]) == 0
    for name in ("_annex_e.py", "_safe_private.py"):
        regenerated = (tmp_path / name).read_text("utf-8")
        shipped = (DATA / name).read_text("utf-8")
        assert regenerated == shipped, name


def test_generator_writes_only_into_its_target(
    reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generator = load_generator()
    monkeypatch.setattr(generator, "DATA", tmp_path)
    before = {p: p.stat().st_mtime_ns for p in DATA.glob("*.py")}
    generator.main(["generate_tables.py", str(reference)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_annex_e.py", "_safe_private.py"]
    assert {p: p.stat().st_mtime_ns for p in DATA.glob("*.py")} == before
