"""Sub-commands of the ``otswarm`` CLI, one module each.

A command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. It imports what it needs inside ``run`` so that
``otswarm --help`` stays fast and a board without the optional extras can still
start the CLI.
"""
