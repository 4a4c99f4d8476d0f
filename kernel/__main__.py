"""``python -m kernel`` runs the ``juniper`` command line."""
from kernel.cli import main

main()
