"""Region rules: header matches blank fixed rectangles, as in CTP and deid."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError
from pydicom.dataset import Dataset

from anonymizer.pixels.geometry import Box
from anonymizer.pixels.regions import RegionRule, region_boxes

RULES_YAML = """
- name: philips-iu22-banner
  match: {Manufacturer: "Philips*", Modality: US, Rows: 600, Columns: 800}
  boxes: [[0, 0, 800, 60]]
- name: ge-logiq-corner
  match: {ManufacturerModelName: "*logiq*", ImageType: "*SECONDARY*"}
  boxes: [{x: 10, y: 20, width: 30, height: 40}, [500, 0, 100, 20]]
"""


def _rules() -> list[RegionRule]:
    return [RegionRule.model_validate(item) for item in yaml.safe_load(RULES_YAML)]


def _ds(**values: object) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def test_match_all_keys() -> None:
    ds = _ds(Manufacturer="Philips Medical Systems", Modality="US", Rows=600, Columns=800)
    names, boxes = region_boxes(ds, _rules())
    assert names == ["philips-iu22-banner"]
    assert boxes == [Box(0, 0, 800, 60)]


def test_one_key_differs_no_match() -> None:
    ds = _ds(Manufacturer="Philips Medical Systems", Modality="US", Rows=480, Columns=800)
    assert region_boxes(ds, _rules()) == ([], [])


def test_missing_attribute_never_matches() -> None:
    ds = _ds(Modality="US", Rows=600, Columns=800)
    assert region_boxes(ds, _rules()) == ([], [])


def test_multi_valued_and_case_insensitive() -> None:
    ds = _ds(ManufacturerModelName="LOGIQ E9", ImageType=["DERIVED", "SECONDARY"])
    names, boxes = region_boxes(ds, _rules())
    assert names == ["ge-logiq-corner"]
    assert boxes == [Box(10, 20, 30, 40), Box(500, 0, 100, 20)]


@pytest.mark.parametrize(
    "item",
    [
        {"name": "x", "match": {}, "boxes": [[0, 0, 1, 1]]},
        {"name": "x", "match": {"Modality": "US"}, "boxes": []},
        {"name": "x", "match": {"PatientName": "A*"}, "boxes": [[0, 0, 1, 1]]},
        {"name": "x", "match": {"Modality": "US"}, "boxes": [[0, 0, 1]]},
        {"name": "x", "match": {"Modality": "US"}, "boxes": [[0, 0, 0, 5]]},
        {"name": "x", "match": {"Modality": "US"}, "boxes": [[0, 0, 1, 1]], "extra": 1},
        {"name": "bad name!", "match": {"Modality": "US"}, "boxes": [[0, 0, 1, 1]]},
    ],
)
def test_invalid_rules_are_refused(item: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RegionRule.model_validate(item)


def test_rules_are_frozen() -> None:
    rule = _rules()[0]
    with pytest.raises(ValidationError):
        rule.name = "other"
