"""Toolkits: named sets of HTTP operations (imported from OpenAPI 3 or declared by hand) that
agents call as tools and action nodes call with their input."""
