"""Workflow definitions: their models, validation, graph walking rules and output shaping."""
