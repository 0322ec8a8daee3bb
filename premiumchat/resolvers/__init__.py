"""Thin resolvers: read arguments, call a service, return a schema type."""
