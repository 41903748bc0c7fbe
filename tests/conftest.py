"""The grading plugin (points, hints, per-test timeouts, grade reports) for tests/labs/.

It is inert for tests without a points marker, so the server tests are unaffected.
"""

pytest_plugins = ["local_servers.grading.plugin"]
