"""Peak memory of one video, the number generations.parquet records as `peak_memory_bytes`.

    with PeakMemory(device) as peak:
        ...make one video...
    peak.bytes  # int, or None when this platform cannot measure one video on its own

On CUDA it is the allocator's peak since the meter started (the peak statistics are reset on
entry). On the CPU it is the process's peak resident set since the meter started: Linux keeps it
as VmHWM in /proc/self/status and lets a process reset it to the current RSS by writing 5 to
/proc/self/clear_refs. Where that reset is refused (some containers, other systems) the meter
reports None: the process's lifetime peak (ru_maxrss) would be the largest video so far, or the
model load, repeated on every row, not this video's.

The statistics are per process (per CUDA device), so meters do not nest: an inner meter's reset
also restarts the outer one. Measure one stretch of work at a time.
"""

from __future__ import annotations

from typing import Any

_CLEAR_REFS = "/proc/self/clear_refs"
_STATUS = "/proc/self/status"
# "5" resets the peak RSS (VmHWM) to the current RSS (Documentation/filesystems/proc.rst).
_RESET_PEAK_RSS = "5"


def reset_rss_peak() -> bool:
    """Restart the process's peak-RSS counter; False where the system does not allow it."""
    try:
        with open(_CLEAR_REFS, "w") as f:
            f.write(_RESET_PEAK_RSS)
        return True
    except OSError:
        return False


def rss_peak() -> int | None:
    """VmHWM, the peak resident set since the process started or since `reset_rss_peak`, in bytes."""
    try:
        with open(_STATUS) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except (OSError, ValueError, IndexError):
        return None
    return None


class PeakMemory:
    """A context manager measuring the peak memory of the work inside it (see the module doc).

    `bytes` is the peak so far while inside, and the peak of the whole stretch after the exit."""

    def __init__(self, device: Any = "cpu"):
        self.device = device  # a str ("cuda:1") or a torch.device
        self.kind = getattr(device, "type", None) or str(device or "cpu").split(":", 1)[0]
        self._measurable = False
        self._final: int | None = None
        self._closed = False

    def __enter__(self) -> PeakMemory:
        self._final, self._closed = None, False
        if self.kind == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats(self.device)
            self._measurable = True
        elif self.kind == "cpu":
            self._measurable = reset_rss_peak()
        else:  # an accelerator without a resettable peak counter (mps, ...)
            self._measurable = False
        return self

    def __exit__(self, *exc) -> bool:
        self._final = self._read()
        self._closed = True
        return False

    def _read(self) -> int | None:
        if not self._measurable:
            return None
        if self.kind == "cuda":
            import torch

            return int(torch.cuda.max_memory_allocated(self.device))
        return rss_peak()

    @property
    def bytes(self) -> int | None:
        return self._final if self._closed else self._read()
