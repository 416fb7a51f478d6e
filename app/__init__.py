"""The Dockyard desktop application.

Nothing at package level imports Qt: ``app.cli`` and ``app.doctor`` must start
fast and run where no display exists.
"""
