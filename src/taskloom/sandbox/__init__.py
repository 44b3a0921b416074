"""Runs user code (`code` nodes) in warm, sandboxed interpreters outside the server process."""

from taskloom.sandbox.pool import SandboxPool

__all__ = ["SandboxPool"]
