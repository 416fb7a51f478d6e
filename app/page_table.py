"""Every page of the window, in sidebar order: one line each.

The window builds its sidebar, its page stack, the "Go to" actions and the
saved layouts from this table; a new page (Volumes, Networks…) is one more
line here and its own module under app/pages/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from app.session import EngineSession
    from app.settings import Settings


@dataclass(frozen=True)
class PageSpec:
    #: Names the page's saved layout ("<key>-splitter", "<key>-columns-N").
    key: str
    title: str
    #: A freedesktop icon name for the sidebar; "" for none.
    icon: str
    shortcut: str
    #: The page's class, by name (``MainWindow.page(kind)`` finds it without building
    #: every page).
    class_name: str
    #: Builds the page.  Pages are built (and their modules imported) the first time
    #: they are shown: start-up pays for the first page only, and a page never shown
    #: keeps no live list (each re-read on the engine's events).
    factory: Callable[[EngineSession, Settings], QWidget]


def _containers(session: EngineSession, settings: Settings) -> QWidget:
    from app.pages.containers import ContainersPage
    return ContainersPage(session, settings)


def _images(session: EngineSession, _settings: Settings) -> QWidget:
    from app.pages.images import ImagesPage
    return ImagesPage(session)


def _volumes(session: EngineSession, _settings: Settings) -> QWidget:
    from app.pages.volumes import VolumesPage
    return VolumesPage(session)


def _networks(session: EngineSession, _settings: Settings) -> QWidget:
    from app.pages.networks import NetworksPage
    return NetworksPage(session)


def _disk(session: EngineSession, _settings: Settings) -> QWidget:
    from app.pages.disk import DiskPage
    return DiskPage(session)


def _apps(session: EngineSession, settings: Settings) -> QWidget:
    from app.pages.apps import AppsPage
    return AppsPage(session, settings)


def _registries(session: EngineSession, _settings: Settings) -> QWidget:
    from app.pages.registries import RegistriesPage
    return RegistriesPage(session)


def _swarm(session: EngineSession, settings: Settings) -> QWidget:
    from app.pages.swarm import SwarmPage
    return SwarmPage(session, settings=settings)


def _engine(session: EngineSession, settings: Settings) -> QWidget:
    from app.pages.engine import EnginePage
    return EnginePage(session, settings)


PAGES = (
    PageSpec("containers", "Containers", "", "Ctrl+1", "ContainersPage", _containers),
    PageSpec("images", "Images", "", "Ctrl+2", "ImagesPage", _images),
    PageSpec("volumes", "Volumes", "", "Ctrl+3", "VolumesPage", _volumes),
    PageSpec("networks", "Networks", "", "Ctrl+4", "NetworksPage", _networks),
    PageSpec("disk", "Disk usage", "", "Ctrl+5", "DiskPage", _disk),
    PageSpec("apps", "Apps", "", "Ctrl+6", "AppsPage", _apps),
    PageSpec("registries", "Registries", "", "Ctrl+7", "RegistriesPage", _registries),
    PageSpec("swarm", "Swarm", "", "Ctrl+9", "SwarmPage", _swarm),
    # The design's order: the resource pages first, the engine's own page after them.
    PageSpec("engine", "Engine", "", "Ctrl+8", "EnginePage", _engine),
)
