"""Container I/O: logs, exec over a hijacked connection, and live stats.

Module-level async functions that take an :class:`~engine._client.Engine` first, so
the client stays small and these can be wrapped as methods later; one module per
role: :mod:`.container_logs`, :mod:`.execute`, :mod:`.container_stats`.  What the real
daemons do, and what these functions make of it (checked against Docker 20.10.24 /
API 1.41 on cgroup v1 and Podman 4.3.1):

Logs
    Multiplexed or raw is decided from the container's ``Config.Tty``, never from
    Content-Type (Docker 1.41 sends *no* Content-Type on ``/logs``; Podman sends
    ``application/octet-stream`` for multiplexed and ``text/plain`` for TTY).  A
    container removed while following simply ends the HTTP stream on both engines,
    so the iterator ends without an exception.  Docker's json-file driver stores
    lines as JSON strings: invalid UTF-8 comes back as U+FFFD (``docker logs`` shows
    the same); Podman's k8s-file driver keeps the bytes.  Lines longer than 16 KiB
    (Docker) or 8 KiB (Podman) are stored as partial messages, each one its own
    frame and, with ``timestamps``, its own timestamp prefix.  Podman's timestamps
    have whole seconds only.

Exec
    ``POST /exec/{id}/start`` with ``Connection: Upgrade`` answers ``101`` on both
    engines and the socket becomes a raw duplex stream.  A command that cannot be
    started still gets its 101; the runtime's complaint arrives as output and the
    exit code is 126 (found, not executable) or 127 (not found).

Stats
    Docker streams one sample a second, Podman one every 5 seconds.  On a stopped
    container Docker keeps streaming zeroed samples (``read`` = year 1) forever,
    Podman ends the stream; :func:`stats` ends on the first zeroed sample so both
    behave alike.  ``stream=false`` waits for a second sample on Docker (~2 s, CPU %
    meaningful) but answers at once on Podman with an empty ``precpu_stats``.
"""

from engine._decoders import LogBatch
from engine._io.container_logs import (
    LogChunk,
    LogLine,
    Since,
    log_batches,
    log_lines,
    log_since,
    log_timestamp,
    logs,
    split_timestamp,
)
from engine._io.container_stats import StatsSample, sample_from_stats, stats
from engine._io.execute import (
    SHELLS,
    ExecInfo,
    ExecSession,
    exec_create,
    exec_failure_reason,
    exec_inspect,
    exec_run,
    exec_start,
    find_shell,
)

__all__ = [
    "SHELLS",
    "ExecInfo",
    "ExecSession",
    "LogBatch",
    "LogChunk",
    "LogLine",
    "Since",
    "StatsSample",
    "exec_create",
    "exec_failure_reason",
    "exec_inspect",
    "exec_run",
    "exec_start",
    "find_shell",
    "log_batches",
    "log_lines",
    "log_since",
    "log_timestamp",
    "logs",
    "sample_from_stats",
    "split_timestamp",
    "stats",
]
