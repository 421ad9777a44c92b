"""A private virtual screen (Xvfb) for wine runs: its own display number, and stopped
afterwards even when the program under it hangs (xvfb-run would leave its Xvfb behind
when killed on a timeout)."""

from __future__ import annotations

import os
import select
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from phonet_build.common import BuildError


@contextmanager
def virtual_display() -> Iterator[str]:
    """Start Xvfb on a free display (``-displayfd``) and yield its name, e.g. ``:99``."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 30)
        number = os.read(read_fd, 64).decode().strip() if ready else ""
        if not number:
            raise BuildError("Xvfb did not start")
        yield f":{number}"
    finally:
        os.close(read_fd)
        proc.terminate()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(10)
