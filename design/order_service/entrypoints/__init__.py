"""The entry points: the `orders` command, the demo, and the HTTP API (`orders serve`)."""
