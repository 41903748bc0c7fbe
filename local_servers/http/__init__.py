"""HTTP and HTTPS: the course's own httpbin-style endpoints on http.server (server.py)."""
