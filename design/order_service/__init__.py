"""The Order Service, in miniature: an executable CQRS and Event Sourcing design."""
