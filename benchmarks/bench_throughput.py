"""Throughput and leaks: files/s (and MB/s) of each tool on each corpus, basic profile.

Each (corpus, tool, repetition) runs in a fresh worker process that sets the tool up,
warms it up on one file, then times one pass over every file of the corpus, writing real
output files. Tool order rotates between repetitions so that machine noise falls on all
tools alike; the table shows medians. The leak count is the number of output files in
which any planted fake value is still found (see ``leaks.py``); the floor, which changes
nothing, must leak in every file and so checks the checker.

    .venv/bin/python benchmarks/bench_throughput.py [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: import `benchmarks.*` from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks import tools  # noqa: E402
from benchmarks.corpus import (
    MB,
    Corpus,
    build_large,
    build_mixed,
    build_mixed_copies,
    testdata,
)  # noqa: E402
from benchmarks.leaks import leaked_fields  # noqa: E402
from benchmarks.rss import peak_rss_mb  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# A run is ("library", tool): the tool's Python API in a worker process, or
# ("command", tool): the tool's command line over the whole folder (tools.COMMANDS).
Run = tuple[str, str]


def run_worker(run: Run, corpus: Corpus, out_dir: Path) -> dict[str, Any]:
    """Time one tool over ``corpus`` in a fresh process; return its JSON report."""
    kind, tool = run
    if kind == "command":
        return _run_command(tool, corpus, out_dir)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", tool]
    command += ["--corpus-root", str(corpus.root), "--out", str(out_dir)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{tool} worker failed:\n{done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _run_command(tool: str, corpus: Corpus, out_dir: Path) -> dict[str, Any]:
    """A command line over the whole folder, timed from outside, process start included.

    The same command on one small file is timed first: its time is the start-up (the
    interpreter, imports, set-up), reported apart so the per-file rate can be read
    without it.
    """
    with tempfile.TemporaryDirectory() as scratch:
        one, out = Path(scratch) / "one", Path(scratch) / "out"
        one.mkdir()
        out.mkdir()
        shutil.copy(testdata("CT_small.dcm"), one / "CT_small.dcm")
        startup, _ = _time_command(tool, one, out)
    seconds, cpu = _time_command(tool, corpus.files_dir, out_dir)
    # An output renamed by its new SOP Instance UID (dicognito) cannot be matched to its
    # input, and inputs sharing a UID share an output: no failure count for those.
    failures = (
        {p.name: "missing" for p in corpus.files if not (out_dir / p.name).exists()}
        if tool in tools.KEEPS_NAMES
        else None
    )
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "startup_seconds": startup,
        "failures": failures,
        "maxrss_mb": None,
    }


def _time_command(tool: str, src: Path, dst: Path) -> tuple[float, float]:
    """Wall and CPU seconds (of the child processes) of one tool's command line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(tools.command(tool, src, dst), capture_output=True, check=False)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def worker(tool: str, corpus_root: Path, out_dir: Path) -> None:
    """The worker process: set up, warm up, time one pass, print a JSON report."""
    corpus = Corpus.load(corpus_root)
    anonymize = tools.make(tool)
    with tempfile.TemporaryDirectory() as scratch:
        warm = testdata("CT_small.dcm")
        anonymize(warm, Path(scratch) / warm.name)
    failures: dict[str, str] = {}
    started, cpu_started = time.perf_counter(), time.process_time()
    for src in corpus.files:
        try:
            anonymize(src, out_dir / src.name)
        except Exception as exc:  # noqa: BLE001 - a tool's failure is a result, not a crash
            failures[src.name] = type(exc).__name__
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    report = {"seconds": seconds, "cpu_seconds": cpu, "failures": failures}
    print(json.dumps({**report, "maxrss_mb": peak_rss_mb()}))


def check_leaks(corpus: Corpus, out_dir: Path, failures: dict[str, str]) -> dict[str, Any]:
    """Leaking output files, and how often each planted field was found."""
    fields: Counter[str] = Counter()
    leaking = 0
    for src in corpus.files:
        out = out_dir / src.name
        if src.name in failures or not out.exists():
            continue
        found = leaked_fields(out, corpus.planted[src.name])
        leaking += bool(found)
        fields.update(found)
    return {"files": leaking, "fields": dict(sorted(fields.items()))}


def bench_corpus(
    name: str, corpus: Corpus, runs: list[Run], *, repeat: int, work: Path
) -> dict[str, Any]:
    """Run every tool ``repeat`` times, order rotated each time; return the raw numbers."""
    reports: dict[Run, list[dict[str, Any]]] = {run: [] for run in runs}
    leaks: dict[Run, dict[str, Any] | None] = {}
    for rep in range(repeat):
        order = runs[rep % len(runs) :] + runs[: rep % len(runs)]
        for run in order:
            kind, tool = run
            out_dir = work / "out" / name / kind / tool.replace(" ", "_")
            shutil.rmtree(out_dir, ignore_errors=True)
            out_dir.mkdir(parents=True)
            os.sync()  # the last run's writeback must not land in this run's time
            report = run_worker(run, corpus, out_dir)
            reports[run].append(report)
            if run not in leaks:
                failures = report["failures"]
                leaks[run] = None if failures is None else check_leaks(corpus, out_dir, failures)
            shutil.rmtree(out_dir)
            label = tool if kind == "library" else f"{tool} (command line)"
            print(f"  {name} rep {rep + 1}/{repeat} {label}: {report['seconds']:.2f} s", flush=True)
    result: dict[str, Any] = {"files": len(corpus.files), "bytes": corpus.total_bytes}
    result["repeat"] = repeat
    for kind in ("library", "command"):
        result["tools" if kind == "library" else "commands"] = {
            tool: _summary(reports[(k, tool)], leaks[(k, tool)], corpus)
            for k, tool in runs
            if k == kind
        }
    return result


def _summary(
    reports: list[dict[str, Any]], leaks: dict[str, Any] | None, corpus: Corpus
) -> dict[str, Any]:
    files, size = len(corpus.files), corpus.total_bytes
    seconds = statistics.median(float(r["seconds"]) for r in reports)
    rss = [r["maxrss_mb"] for r in reports if r["maxrss_mb"] is not None]
    summary: dict[str, Any] = {
        "seconds_median": seconds,
        "seconds_all": [r["seconds"] for r in reports],
        "files_per_s": files / seconds,
        "files_per_s_best": files / min(float(r["seconds"]) for r in reports),
        "cpu_seconds_all": [r["cpu_seconds"] for r in reports],
        "files_per_cpu_s": files / statistics.median(float(r["cpu_seconds"]) for r in reports),
        "mb_per_s": size / MB / seconds,
        "failed": None if reports[0]["failures"] is None else len(reports[0]["failures"]),
        "failures": reports[0]["failures"],
        "leaks": leaks,
        "peak_rss_mb": max(rss) if rss else None,
    }
    startups = [r["startup_seconds"] for r in reports if "startup_seconds" in r]
    if startups:
        startup = statistics.median(startups)
        summary["startup_seconds"] = startup
        summary["files_per_s_without_startup"] = files / max(seconds - startup, 1e-9)
    return summary


def print_table(name: str, result: dict[str, Any]) -> None:
    """The Markdown tables of one corpus (Python APIs, then command lines), with ratios."""
    print(
        f"\n### {name}: {result['files']} files, {result['bytes'] / MB:.1f} MB, "
        f"median of {result['repeat']}\n"
    )
    rows = result["tools"]
    if rows:
        base = rows.get("pydicom floor")
        print("In-process, each tool's Python API (set up and warmed up before the clock):\n")
        print(
            "| tool | files/s | MB/s | × floor | files/CPU-s | × floor (CPU) | failed "
            "| leaking files | peak RSS MiB |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for tool, row in rows.items():
            rss = "" if row["peak_rss_mb"] is None else f"{row['peak_rss_mb']:.0f}"
            print(f"| {tool} | {_speeds(row, base)} | {row['failed']} | {_leaks(row)} | {rss} |")
        _print_ratios(rows, "ours")
    commands = result.get("commands") or {}
    if commands:
        base = commands.get(tools.FLOOR_CLI)
        print(
            "\nCommand lines over the whole folder, one process each, timed from outside "
            "(start-up = the same command on one file):\n"
        )
        print(
            "| command line | files/s | MB/s | × floor | files/CPU-s | × floor (CPU) "
            "| start-up s | files/s without it | failed | leaking files |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for tool, row in commands.items():
            net = row["files_per_s_without_startup"]
            failed = "n/a" if row["failed"] is None else row["failed"]
            print(
                f"| {tool} | {_speeds(row, base)} | {row['startup_seconds']:.2f} | {net:.1f} "
                f"| {failed} | {_leaks(row)} |"
            )
        _print_ratios(commands, tools.OURS_CLI)
    everything = {**rows, **{f"{t} (command line)": r for t, r in commands.items()}}
    fields = sorted(
        {f for row in everything.values() if row["leaks"] for f in row["leaks"]["fields"]}
    )
    if fields:
        print("\nPlanted fields found in outputs (`bytes:` = only as raw bytes elsewhere):\n")
        print("| field | " + " | ".join(everything) + " |")
        print("| --- |" + " ---: |" * len(everything))
        for field in fields:
            counts = [
                str(row["leaks"]["fields"].get(field, 0)) if row["leaks"] else "n/a"
                for row in everything.values()
            ]
            print(f"| {field} | " + " | ".join(counts) + " |")


def _speeds(row: dict[str, Any], base: dict[str, Any] | None) -> str:
    floor = base["files_per_s"] if base else float("nan")
    floor_cpu = base["files_per_cpu_s"] if base else float("nan")
    return (
        f"{row['files_per_s']:.1f} | {row['mb_per_s']:.1f} | {row['files_per_s'] / floor:.2f} | "
        f"{row['files_per_cpu_s']:.1f} | {row['files_per_cpu_s'] / floor_cpu:.2f}"
    )


def _leaks(row: dict[str, Any]) -> str:
    return "n/a (renamed)" if row["leaks"] is None else str(row["leaks"]["files"])


def _print_ratios(rows: dict[str, Any], ours_name: str) -> None:
    """The two target ratios, on wall-clock and CPU time."""
    if ours_name not in rows:
        return
    print()
    for key, label in (("files_per_s", "wall"), ("files_per_cpu_s", "CPU")):
        ours = rows[ours_name][key]
        line = f"{label}: "
        if "pydicom floor" in rows:
            line += f"ours / floor = {ours / rows['pydicom floor'][key]:.2f} (target ≥ 0.8); "
        peers = {t: rows[t][key] for t in tools.PEERS if t in rows}
        if peers:
            best = max(peers, key=lambda t: peers[t])
            line += f"ours / fastest peer ({best}) = {ours / peers[best]:.2f} (target ≥ 1.5)"
        print(line + "  ")


def _build(name: str, args: argparse.Namespace) -> Corpus:
    if name == "mixed":
        return build_mixed(args.work)
    if name == "mixed-x10":
        return build_mixed_copies(args.work, 10)
    return build_large(
        args.work,
        count=args.large_count,
        size_mb=args.large_mb,
        delimited=name == "large-delimited",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "bench-work")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the raw numbers here")
    parser.add_argument(
        "--corpus",
        nargs="+",
        choices=["mixed", "mixed-x10", "large", "large-delimited"],
        default=["mixed", "large"],
        help="mixed-x10: ten copies of mixed, each a new instance with its own planted "
        "values (1660 files); large-delimited: the large files with undefined-length "
        "sequences",
    )
    parser.add_argument(
        "--tools", nargs="*", choices=list(tools.TOOLS), default=list(tools.DEFAULT_TOOLS)
    )
    parser.add_argument("--large-count", type=int, default=4)
    parser.add_argument("--large-mb", type=int, default=150)
    parser.add_argument(
        "--commands",
        nargs="*",
        choices=list(tools.COMMANDS),
        default=list(tools.COMMANDS),
        help="command lines to time over the whole folder (none: --commands with no name)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--corpus-root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.corpus_root, args.out)
        return
    runs: list[Run] = [("library", t) for t in args.tools]
    runs += [("command", t) for t in args.commands]
    results: dict[str, dict[str, Any]] = {}
    for name in args.corpus:
        corpus = _build(name, args)
        print(f"{name}: {len(corpus.files)} files in {corpus.root}", flush=True)
        results[name] = bench_corpus(name, corpus, runs, repeat=args.repeat, work=args.work)
    print(
        f"\nDate: {time.strftime('%Y-%m-%d %H:%M')}; library {tools.revision()}; "
        "one process per tool and pass, basic profile."
    )
    for name, result in results.items():
        print_table(name, result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
