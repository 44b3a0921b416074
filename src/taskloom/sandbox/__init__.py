"""Runs user code (`code` nodes) in warm, sandboxed interpreters outside the server process."""
