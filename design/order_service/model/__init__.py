"""The model: events, commands, `decide`, `evolve` and `fold`, snapshots, upcasting, history.

Pure Python: it imports nothing from storage, the clock, the bus or the entry points (a test
keeps it so), which is why the playground can run it in the browser.
"""
