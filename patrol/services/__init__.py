"""Writes of the patrol app: the case lifecycle, routing and deadlines, alerts."""
