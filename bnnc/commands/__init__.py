"""Verbs of the ``bnnc`` command line that are registered on the app in ``bnnc.cli``."""
