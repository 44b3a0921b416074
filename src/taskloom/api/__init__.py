"""The HTTP surface: the xpander v1 REST contract on FastAPI."""
