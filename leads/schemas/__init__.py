"""Schemas of what the service takes and gives over HTTP (pydantic models)."""
