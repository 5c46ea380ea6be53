"""``python -m bnnc`` runs the command line."""

from bnnc.cli import main

main()
