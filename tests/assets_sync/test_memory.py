"""prefer_system_allocator: opt-in, respects ARROW_DEFAULT_MEMORY_POOL."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from assets_sync.memory import ARROW_POOL_ENV, prefer_system_allocator


@pytest.fixture(autouse=True)
def restore_pool() -> Iterator[None]:
    before = pa.default_memory_pool()
    yield
    pa.set_memory_pool(before)


def test_switches_arrow_to_the_system_allocator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ARROW_POOL_ENV, raising=False)
    assert prefer_system_allocator() == "system"
    assert pa.array(["x"] * 10).to_pylist() == ["x"] * 10


def test_an_explicit_choice_in_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ARROW_POOL_ENV, "mimalloc")
    before = pa.default_memory_pool().backend_name
    assert prefer_system_allocator() == before
