"""Build and pull: the two JSON progress streams of the Engine API, as typed events.

``build()`` streams a :class:`~engine._context.ContextListing` as a tar body to
``POST /build`` and turns the answer into :data:`BuildEvent` values: classic-builder
steps ("Step 2/5 : RUN …"), output text, BuildKit vertices (decoded from the base64
protobuf ``moby.buildkit.trace`` messages with a tiny varint reader) and the final
image ID.  A failing step arrives as HTTP 200 with ``errorDetail`` in the stream; it is
raised as :class:`BuildFailed` carrying the step and its Dockerfile line when they can
be worked out.  Closing the iterator closes the response, which cancels the build on
the daemon.

``pull()`` does the same for ``POST /images/create``: per-layer progress and an
overall figure, and failures in plain words (:class:`PullFailed` with a ``reason``).
``parse_reference`` normalises image references like the docker CLI, and
``registry_auth`` reads the CLI's credentials for the ``X-Registry-Auth`` header.

One module per role: :mod:`.events`, :mod:`.buildkit` and :mod:`.building` (build),
:mod:`.references`, :mod:`.pulling`, :mod:`.credentials` (auth) and :mod:`.search`.
"""

from engine._build.building import BuildDecoder, build
from engine._build.buildkit import decode_buildkit_status
from engine._build.credentials import (
    Credentials,
    LoginStore,
    login_auth,
    login_store,
    registry_auth,
    remove_login,
    save_login,
    saved_credentials,
)
from engine._build.events import (
    BuildCacheUse,
    BuildComplete,
    BuildEvent,
    BuildFailed,
    BuildOutput,
    BuildStep,
    BuildVertex,
    BuildVertexProgress,
)
from engine._build.pulling import (
    LayerProgress,
    LayerState,
    PullDecoder,
    PullFailed,
    PullFailure,
    PullProgress,
    encode_auth,
    pull,
)
from engine._build.pushing import LayerPush, PushDecoder, PushFailed, PushProgress, PushState, push
from engine._build.references import ImageReference, InvalidReference, parse_reference
from engine._build.search import SearchFailed, SearchResult, search_images

__all__ = [
    "BuildCacheUse",
    "BuildComplete",
    "BuildDecoder",
    "BuildEvent",
    "BuildFailed",
    "BuildOutput",
    "BuildStep",
    "BuildVertex",
    "BuildVertexProgress",
    "Credentials",
    "ImageReference",
    "InvalidReference",
    "LayerProgress",
    "LayerPush",
    "LayerState",
    "LoginStore",
    "PullDecoder",
    "PullFailed",
    "PullFailure",
    "PullProgress",
    "PushDecoder",
    "PushFailed",
    "PushProgress",
    "PushState",
    "SearchFailed",
    "SearchResult",
    "build",
    "decode_buildkit_status",
    "encode_auth",
    "login_auth",
    "login_store",
    "parse_reference",
    "pull",
    "push",
    "registry_auth",
    "remove_login",
    "save_login",
    "saved_credentials",
    "search_images",
]
