"""`assets-sync report`: placeholder until the analytics issue (#8) lands."""

from __future__ import annotations

from pathlib import Path


def write_report(warehouse: str, out: str) -> Path:
    raise NotImplementedError("the HTML report arrives with the analytics issue (#8)")
