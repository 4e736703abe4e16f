"""The read side (query side): the projector that keeps the read model, the queries that read it.

The queries import nothing from the projector: they share the read model's tables, not code.
"""
