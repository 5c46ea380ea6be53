"""Engines answer questions about a compiled formula: decide, sample, count.

* ``base``: the protocols every backend implements (Decider, Sampler, Counter) and their
  result types; ``registry``: the backends by name, loaded on lookup.
* One module per backend: ``cadical`` (and the MiniSat propagator), ``cmsgen``, ``unigen``,
  ``ganak``, ``approxmc``, ``bruteforce`` (the reference counter, ``enumerate``).
* The verbs, which talk to backends only through the registry: ``decide`` (check_sat, infer),
  ``sample``, ``count``; and the witness search by simulation that check_sat tries first
  (``search``, ``search_net``) and counting by running the network (``enumerate``).
"""
