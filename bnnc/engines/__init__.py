"""Engines answer questions about a compiled formula: decide, sample, count."""
