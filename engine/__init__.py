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
    "Frame",
    "FrameDecoder",
    "HistoryEntry",
    "Image",
    "ImageDetails",
    "JSONStreamDecoder",
    "LineSplitter",
    "Mount",
    "NotFound",
    "PermissionDenied",
    "Port",
    "ProtocolError",
    "Resolution",
    "ServerError",
    "StreamKind",
    "SystemInfo",
    "TLSConfig",
    "discover",
    "format_ports",
    "negotiate",
    "resolve",
]
