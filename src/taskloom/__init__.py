"""taskloom: a durable, self-hosted runtime for AI-agent workflows."""

__version__ = "0.1.0"
