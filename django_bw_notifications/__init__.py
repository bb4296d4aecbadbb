"""Receive, store and signal Bandwidth Numbers API notifications in Django."""

__version__ = "0.1.0"
