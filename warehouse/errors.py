"""Errors the warehouse raises, so callers can tell "try later" from "something is wrong".

    WarehouseError                  the warehouse cannot be used as asked (not a DuckDB file,
     |                              created by a newer version, opened read-only for a write,
     |                              a stream scope it cannot evaluate, ...). Fatal for the run.
     +-- WarehouseBusyError         another writer holds the warehouse (another process, or
                                    another sink of this process). Retry later; never corrupts.

DuckDB's own exceptions are translated at the edges where they carry meaning to a user
(opening, locking); anything else that escapes is a bug or an I/O failure and propagates as is,
after the enclosing transaction has been rolled back.
"""

from __future__ import annotations


class WarehouseError(Exception):
    """The warehouse cannot do what was asked; the message says why and what to do."""


class WarehouseBusyError(WarehouseError):
    """Another writer holds the warehouse. Nothing was changed; retry when it is done."""
