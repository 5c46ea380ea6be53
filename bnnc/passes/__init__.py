"""The lowering passes, one per module, and the pipeline that runs them (``pipeline``)."""
