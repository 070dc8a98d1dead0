"""Revisions, oldest first: 0001 the initial schema, then indexes and the BI views."""
