"""News: NNTP (RFC 3977) on the line engine, over its store and seed (each module says its part)."""
