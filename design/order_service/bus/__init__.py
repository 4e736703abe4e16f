"""The event bus between the write side and the read side."""
