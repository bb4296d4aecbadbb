"""Whether a database connection can take several statements in one message.

On a busy server every round trip costs a context switch or two, so the request path
sends what it can together. PostgreSQL's simple query protocol runs several
semicolon-separated statements from one message, and psycopg 3's client-side binding
(Django's default) sends every query that way. Server-side binding and other drivers do
not, so the callers fall back to one statement per round trip.
"""

from __future__ import annotations

from typing import Any

__all__ = ["several_statements_per_message"]


def several_statements_per_message(connection: Any) -> bool:
    """True for PostgreSQL through psycopg 3 with client-side binding (connects)."""
    if connection.vendor != "postgresql":
        return False
    if connection.settings_dict.get("OPTIONS", {}).get("server_side_binding"):
        return False
    connection.ensure_connection()  # bounded by connect_timeout
    return type(connection.connection).__module__.partition(".")[0] == "psycopg"
