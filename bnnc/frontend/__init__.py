"""Frontends: read models from outside bnnc into the stage-1 IR (or the lowered ILP form)."""
