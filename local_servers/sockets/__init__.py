"""The raw-socket services of the first chapter: echo and time (server.py)."""
