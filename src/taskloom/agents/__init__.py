"""Agents: one LLM loop with tools, deployed and invoked like a workflow."""
