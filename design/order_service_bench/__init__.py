"""The benchmark of the Order Service design: `python -m order_service_bench`.

It times rebuilding, appending and projecting an order three ways in one run: through the
design (`order_service`), through the `eventsourcing` library, and with bare `sqlite3`. The
results file it writes is the one source of the performance page (`order_service_bench.page`).
"""
