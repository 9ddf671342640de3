"""``python -m service`` runs the ``toolgrade`` command line."""

from service.cli import main

main()
