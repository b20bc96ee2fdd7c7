"""The heap settings the CLI applies for flat memory over long videos and batches."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent(
    """
    from unseen.heap import limit_heap_growth, trim_heap
    print(limit_heap_growth(), limit_heap_growth())
    trim_heap()
    """
)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_heap_limits_are_accepted_by_glibc() -> None:
    # in a child: the settings are process-wide and should not leak into the test run
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"]
