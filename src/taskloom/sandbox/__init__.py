"""Runs user code (`code` nodes) in warm, sandboxed interpreters outside the server process."""

from taskloom.sandbox.launcher import SandboxMode
from taskloom.sandbox.pool import SandboxPool

__all__ = ["SandboxMode", "SandboxPool"]
