"""Peak memory: anonymize one ~1 GB multi-frame file (no pixel cleaning) in a fresh process.

The file is written in chunks (header by pydicom, pixel data appended by hand), each tool
runs it in a fresh child process, the child reports its own peak RSS (``VmHWM``) and the
parent cross-checks with ``wait4``'s ``ru_maxrss``. The output's pixel data must equal the
input's byte for byte (sha256 of the pixel element's value). Files are deleted afterwards.

    .venv/bin/python benchmarks/bench_memory.py [--size-mb 1024]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: import `benchmarks.*` from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks import tools  # noqa: E402
from benchmarks.corpus import MB, fake_phi, write_multiframe  # noqa: E402
from benchmarks.rss import peak_rss_mb  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TARGET_MB = 200
CLI_TOOL = "ours (CLI)"
_FRAME_BYTES = 512 * 512 * 2
_CHUNK = 1 << 20


def pixel_sha256(path: Path, length: int) -> str | None:
    """sha256 of the last element's value if it is (7FE0,0010) OW of ``length`` bytes."""
    start = path.stat().st_size - length
    with path.open("rb") as handle:
        handle.seek(start - 12)
        if handle.read(12) != struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, length):
            return None
        digest = hashlib.sha256()
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def child(tool: str, src: Path, dst: Path) -> None:
    """The child process: run one tool on one file, print seconds and own peak RSS."""
    anonymize = tools.make(tool)
    started = time.perf_counter()
    anonymize(src, dst)
    print(json.dumps({"seconds": time.perf_counter() - started, "vmhwm_mb": peak_rss_mb()}))


def measure(tool: str, src: Path, out_dir: Path) -> dict[str, Any]:
    """Run ``tool`` on ``src`` into ``out_dir`` in a fresh process; its peak RSS and seconds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if tool == CLI_TOOL:
        command = [str(Path(sys.executable).parent / "anonymizer"), "anonymize", str(src)]
        command += [str(out_dir), "--profile", "basic", "--throwaway-key", "-q", "--no-resume"]
    else:
        command = [sys.executable, str(Path(__file__).resolve()), "--child", tool]
        command += [str(src), str(out_dir / src.name)]
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        with proc.stdout:
            out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # the rusage of this child alone
        proc.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        err = errors.read()
    report: dict[str, Any] = {
        "exit": proc.returncode,
        "ru_maxrss_mb": usage.ru_maxrss / 1024,
        "seconds": time.perf_counter() - started,
        "vmhwm_mb": None,
    }
    if proc.returncode == 0 and tool != CLI_TOOL:
        report.update(json.loads(out.decode().strip().splitlines()[-1]))
    elif proc.returncode != 0:
        report["error"] = err.decode(errors="replace")[-500:]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "bench-work")
    parser.add_argument("--size-mb", type=int, default=1024, help="pixel data in MiB")
    parser.add_argument("--json", type=Path, help="write the raw numbers here")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    names = ["ours", "pydicom floor"]
    if (REPO / "anonymizer" / "cli.py").exists():
        names.insert(1, CLI_TOOL)
    folder = args.work / "memory"
    src = folder / "big.dcm"
    frames = args.size_mb * (1 << 20) // _FRAME_BYTES
    length = write_multiframe(src, frames=frames, values=fake_phi(9001))
    results: dict[str, dict[str, Any]] = {}
    try:
        expected = pixel_sha256(src, length)
        for tool in names:
            out_dir = folder / "out"
            report = measure(tool, src, out_dir)
            dst = out_dir / src.name
            report["pixels_equal"] = dst.exists() and pixel_sha256(dst, length) == expected
            shutil.rmtree(out_dir)
            results[tool] = report
    finally:
        src.unlink(missing_ok=True)
    size = length / MB
    print(
        f"\nDate: {time.strftime('%Y-%m-%d %H:%M')}; library {tools.revision()}; one {size:.0f} MB "
        f"multi-frame file, {frames} frames, basic profile, no pixel cleaning, fresh process "
        "per tool.\n"
    )
    print("| tool | peak RSS MiB (VmHWM) | ru_maxrss MiB | target | seconds | pixels equal |")
    print("| --- | ---: | ---: | --- | ---: | --- |")
    for tool, row in results.items():
        hwm = row["vmhwm_mb"]
        hwm_text = "" if hwm is None else f"{hwm:.0f}"
        target = f"< {TARGET_MB} MiB" if tool.startswith("ours") else "(contrast)"
        status = "" if row["exit"] == 0 else f" (exit {row['exit']})"
        print(
            f"| {tool} | {hwm_text} | {row['ru_maxrss_mb']:.0f} | {target} | "
            f"{row['seconds']:.1f}{status} | {'yes' if row['pixels_equal'] else 'NO'} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
