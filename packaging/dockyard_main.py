"""The bundle's entry script: the same ``dockyard`` command as the pip entry point."""

from app.cli import main

raise SystemExit(main())
