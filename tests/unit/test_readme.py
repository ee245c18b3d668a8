"""The README says what the code does: its tables, commands and examples are checked here."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from anonymizer import Action, ObjectResult, PseudonymKey
from anonymizer.errors import Reason
from anonymizer.profiles import builtin_profile_names, compile_profile, load_profile

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text("utf-8")


def _section(title: str) -> str:
    """The text under ``## title`` (or ``### title``) up to the next heading of that level."""
    match = re.search(rf"^(#+) {re.escape(title)}\n(.*?)(?=^\1 |\Z)", README, re.M | re.S)
    assert match, f"README has no section {title!r}"
    return match.group(2)


def _table(text: str) -> list[list[str]]:
    """The rows of the first Markdown table in ``text``, without header and separator."""
    lines = [line.strip() for line in text.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.M | re.S)


def test_actions_table_has_one_row_per_action_with_its_description() -> None:
    rows = _table(_section("Actions"))
    names = [name.strip("`") for name, _ in rows]
    assert sorted(names) == sorted(a.value for a in Action)
    assert len(names) == len(set(names))
    for name, text in rows:
        assert text == Action(name.strip("`")).describe(), name


def test_quick_start_has_the_run_and_test_commands() -> None:
    quick_start = _section("Quick start")
    first_block = re.findall(r"```sh\n(.*?)```", quick_start, re.S)[0]
    # The quick start opens with exactly the two commands: run the service, run the tests.
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["scripts/run", "scripts/test"]
    for command in commands:
        assert (ROOT / command).is_file()


def test_ci_calls_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text("utf-8")
    code = [line.split("#")[0] for line in script.splitlines()]
    assert any(re.search(r"(^|\s)scripts/test(\s|$)", line) for line in code)


def test_every_shipped_profile_is_described() -> None:
    rows = _table(_section("Profiles"))
    described = {name.strip("`") for name, *_ in rows}
    assert described == set(builtin_profile_names())


def test_every_rejection_reason_is_explained() -> None:
    rows = _table(_section("Hostile input limits").split("stable reasons", 1)[1])
    assert {reason.strip("`") for reason, _ in rows} == {r.value for r in Reason}


def test_the_example_profile_is_valid(tmp_path: Path) -> None:
    (example,) = _code_blocks("yaml")
    path = tmp_path / "site-research.yaml"
    path.write_text(example, "utf-8")
    profile = load_profile(path)
    assert profile.chain == ("site-research", "research", "basic")
    compiled = compile_profile(profile)
    assert compiled.action_for(0x00081090) is Action.KEEP  # (0008,1090) from the example


def test_the_library_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (example,) = _code_blocks("python")
    monkeypatch.chdir(tmp_path)
    PseudonymKey.generate().write("deid.key")
    source = get_testdata_file("CT_small.dcm")
    assert isinstance(source, str)
    shutil.copy(source, "in.dcm")
    namespace: dict[str, object] = {}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    result = namespace["result"]
    assert isinstance(result, ObjectResult)
    assert (tmp_path / "out.dcm").is_file()
    assert result.sop_instance_uid.startswith("2.25.")
