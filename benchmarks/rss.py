"""Peak resident memory of the current process.

``getrusage().ru_maxrss`` is not used in workers: Linux carries the parent's high-water
mark across fork and exec, so a child of a big parent reports the parent's peak. The
kernel's ``VmHWM`` belongs to the process's own address space, which exec replaces.
"""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak RSS in MiB (``VmHWM``; ``ru_maxrss`` where there is no /proc)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # the kernel reports kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
