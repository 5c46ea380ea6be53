"""The intermediate representations, one module per stage, and their meaning.

``bnn`` (the trained network) → ``milp`` → ``ilp`` (integer thresholds) → ``card``
(cardinality constraints) → ``cnf``; ``region`` and ``query`` say which inputs a question
ranges over; ``reference`` is the numpy interpreter every other stage is checked against.
Nothing here imports a pass, a backend or an engine.
"""
