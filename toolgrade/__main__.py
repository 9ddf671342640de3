"""``python -m toolgrade`` runs the ``toolgrade`` command line."""

from toolgrade.cli import main

main()
