"""The write side (command side): the command handler, the event store, the outbox relay.

It also answers the as-of query, which reads the event store.
"""
