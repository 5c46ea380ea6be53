"""The package version (kept apart so that modules can print it without importing bnnc)."""

__version__ = "0.1.0"
