"""``python -m bnnc`` runs the command line."""

from bnnc._entry import main

main()
