"""Numbered schema migrations, `NNNN_name.sql`, applied in order by `warehouse.migrate`.

A migration is frozen once released: change the schema with a new file, never by editing one.
"""
