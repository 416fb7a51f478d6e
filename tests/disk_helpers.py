"""Shared by the volume, network and disk-usage tests: labelled resources, removed after.

``any_engine`` removes the test's containers; volumes and networks are removed
here too, after the containers (a volume in use cannot go).  Only resources
carrying this run's label are touched.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from tests.conftest import LABEL, LABEL_KEY, RUN_ID, EngineUnderTest

#: Labels for resources created through the bindings.
LABELS = {LABEL_KEY: RUN_ID}
#: The prune filter that confines a prune to this run's resources.
OURS = {"label": [LABEL]}


def remove_labelled(target: EngineUnderTest) -> None:
    target.remove_test_containers()
    volumes = target.cli("volume", "ls", "-q", "--filter", f"label={LABEL}", check=False).split()
    if volumes:
        target.cli("volume", "rm", "-f", *volumes, check=False)
    networks = target.cli("network", "ls", "-q", "--filter", f"label={LABEL}",
                          check=False).split()
    if networks:
        target.cli("network", "rm", *networks, check=False)


@pytest.fixture
def disk_engine(any_engine: EngineUnderTest) -> Iterator[EngineUnderTest]:
    """``any_engine``, with this test's labelled volumes and networks removed afterwards."""
    yield any_engine
    remove_labelled(any_engine)


def free_subnet() -> tuple[str, str, str]:
    """A /24 unlikely to collide with other runs' networks: (subnet, gateway, prefix)."""
    second, third = random.randrange(160, 250), random.randrange(0, 256)
    prefix = f"10.{second}.{third}"
    return f"{prefix}.0/24", f"{prefix}.1", prefix
