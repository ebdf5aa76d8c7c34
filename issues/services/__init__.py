"""Writes of the issues app, one module per concern."""
