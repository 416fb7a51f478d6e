"""Dockyard's bindings to the Docker Engine HTTP API (Docker Engine and Podman).

UI-free and asyncio-based, usable from a script::

    import asyncio, engine

    async def main() -> None:
        client, _ = await engine.discover()
        async with client:
            for container in await client.containers():
                print(container.name, container.state)

    asyncio.run(main())
"""

from engine._client import MAX_API_VERSION, MIN_API_VERSION, Engine, discover, negotiate
from engine._decoders import Frame, FrameDecoder, JSONStreamDecoder, LineSplitter, StreamKind
from engine._endpoint import Endpoint, Resolution, TLSConfig, resolve
from engine._errors import (
    APIError,
    BadRequest,
    Conflict,
    EndpointError,
    EngineError,
    EngineUnreachable,
    NotFound,
    PermissionDenied,
    ProtocolError,
    ServerError,
)
from engine._io import (
    SHELLS,
    ExecInfo,
    ExecSession,
    LogChunk,
    LogLine,
    StatsSample,
    exec_create,
    exec_failure_reason,
    exec_inspect,
    exec_run,
    exec_start,
    find_shell,
    log_lines,
    logs,
    sample_from_stats,
    split_timestamp,
    stats,
)
from engine._models import (
    COMPOSE_PROJECT_LABEL,
    Attempt,
    Container,
    ContainerDetails,
    ContainerState,
    EngineVersion,
    Event,
    HistoryEntry,
    Image,
    ImageDetails,
    Mount,
    Port,
    SystemInfo,
    format_ports,
)

__all__ = [
    "COMPOSE_PROJECT_LABEL",
    "MAX_API_VERSION",
    "MIN_API_VERSION",
    "SHELLS",
    "APIError",
    "Attempt",
    "BadRequest",
    "Conflict",
    "Container",
    "ContainerDetails",
    "ContainerState",
    "Endpoint",
    "EndpointError",
    "Engine",
    "EngineError",
    "EngineUnreachable",
    "EngineVersion",
    "Event",
    "ExecInfo",
    "ExecSession",
    "Frame",
    "FrameDecoder",
    "HistoryEntry",
    "Image",
    "ImageDetails",
    "JSONStreamDecoder",
    "LineSplitter",
    "LogChunk",
    "LogLine",
    "Mount",
    "NotFound",
    "PermissionDenied",
    "Port",
    "ProtocolError",
    "Resolution",
    "ServerError",
    "StatsSample",
    "StreamKind",
    "SystemInfo",
    "TLSConfig",
    "discover",
    "exec_create",
    "exec_failure_reason",
    "exec_inspect",
    "exec_run",
    "exec_start",
    "find_shell",
    "format_ports",
    "log_lines",
    "logs",
    "negotiate",
    "resolve",
    "sample_from_stats",
    "split_timestamp",
    "stats",
]
