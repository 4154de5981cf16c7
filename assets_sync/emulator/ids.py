"""Deterministic, reversible, order-preserving identifiers.

A million `asset_...` strings in a dict would cost ~150 MB and seconds to build, so ids are
not stored: an id is `prefix + base62(P(index)) + base62(tag)` where `P` is a keyed Feistel
permutation of 64-bit integers. Hence:

- `decode(id)` is arithmetic (inverse permutation), no lookup table;
- the ids of a seed look random but are reproducible;
- fixed-width base62 over an ASCII-ordered alphabet means that comparing two ids as strings
  equals comparing their `P(index)` as integers, so the store sorts ties by id with a numpy
  uint64 column (`idkey`) instead of strings.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import numpy.typing as npt

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # ASCII order
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_WIDTH = 11  # 62**11 > 2**64
_M32 = 0xFFFFFFFF
_ROUNDS = 4


def _b62(value: int, width: int = _WIDTH) -> str:
    out = []
    for _ in range(width):
        value, r = divmod(value, 62)
        out.append(ALPHABET[r])
    return "".join(reversed(out))


def _unb62(text: str) -> int | None:
    value = 0
    for c in text:
        d = _INDEX.get(c)
        if d is None:
            return None
        value = value * 62 + d
    return value


_ALPHABET_BYTES = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)


_TRIPLES = _ALPHABET_BYTES[
    np.stack(np.unravel_index(np.arange(62**3), (62, 62, 62)), axis=1)
]  # row r = the 3 base62 digits of r


def _b62_into(values: npt.NDArray[np.uint64], out: npt.NDArray[np.uint8]) -> None:
    """Fixed-width (11) base62 ASCII digits of `values`, three digits per numpy step."""
    v = values.copy()
    base = np.uint64(62**3)
    for col in (8, 5, 2):
        out[:, col : col + 3] = _TRIPLES[(v % base).astype(np.int64)]
        v //= base
    out[:, 0:2] = _TRIPLES[v.astype(np.int64)][:, 1:]


def _round_f(r: int, k: int) -> int:
    x = (r ^ k) & _M32
    return ((x * 0x9E3779B1) & _M32) ^ (((x * 0x85EBCA6B) & _M32) >> 13)


class Codec:
    """Maps dense indices 0..n-1 to ids of one family (`asset_`, `proj_`, `inf_`...)."""

    def __init__(self, prefix: str, seed: int, family: str, tail: int = 11) -> None:
        digest = hashlib.sha256(f"{seed}/{family}".encode()).digest()
        self.prefix = prefix
        self.tail = tail
        self._keys = [int.from_bytes(digest[4 * i : 4 * i + 4], "big") for i in range(_ROUNDS)]
        self._tag_key = int.from_bytes(digest[16:24], "big")

    # -- integers ------------------------------------------------------------------------
    def permute(self, index: int) -> int:
        left, right = (index >> 32) & _M32, index & _M32
        for k in self._keys:
            left, right = right, left ^ _round_f(right, k)
        return (left << 32) | right

    def unpermute(self, value: int) -> int:
        left, right = (value >> 32) & _M32, value & _M32
        for k in reversed(self._keys):
            left, right = right ^ _round_f(left, k), left
        return (left << 32) | right

    def permute_array(self, index: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
        """Vectorized `permute` (the store computes all sort keys at start-up with it)."""
        idx = index.astype(np.uint64)
        m32 = np.uint64(_M32)
        left, right = (idx >> np.uint64(32)) & m32, idx & m32
        for k in self._keys:
            x = right ^ np.uint64(k)
            f = ((x * np.uint64(0x9E3779B1)) & m32) ^ (
                ((x * np.uint64(0x85EBCA6B)) & m32) >> np.uint64(13)
            )
            left, right = right, left ^ f
        return np.asarray((left << np.uint64(32)) | right, dtype=np.uint64)

    def tag_array(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
        mixed = (keys ^ np.uint64(self._tag_key)) * np.uint64(0x9E3779B97F4A7C15)
        return np.asarray(mixed ^ (mixed >> np.uint64(29)), dtype=np.uint64)

    def encode_array(self, index: npt.NDArray[np.integer[Any]]) -> list[str]:
        """Vectorized `encode`: a page's ids in one numpy pass (rendering's hot path)."""
        if len(index) == 0:
            return []
        keys = self.permute_array(np.maximum(index, 0).astype(np.int64))
        return self.encode_keys_array(keys)

    def encode_keys_array(self, keys: npt.NDArray[np.uint64]) -> list[str]:
        n = len(keys)
        if n == 0:
            return []
        width = _WIDTH + self.tail
        digits = np.empty((n, _WIDTH * 2), dtype=np.uint8)
        _b62_into(keys, digits[:, :_WIDTH])
        if self.tail:
            _b62_into(self.tag_array(keys), digits[:, _WIDTH:])
        text = digits[:, :width].tobytes().decode("ascii")
        p = self.prefix
        return [p + text[j : j + width] for j in range(0, n * width, width)]

    # -- strings -------------------------------------------------------------------------
    def _tag(self, key: int) -> str:
        if not self.tail:
            return ""
        mixed = ((key ^ self._tag_key) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        return _b62(mixed ^ (mixed >> 29))[: self.tail]

    def encode_key(self, key: int) -> str:
        """The id whose sort key is `key` (= `permute(index)`)."""
        return self.prefix + _b62(key) + self._tag(key)

    def encode(self, index: int) -> str:
        return self.encode_key(self.permute(index))

    def decode(self, text: str) -> int | None:
        """Index of a well-formed id of this family, else None (never raises)."""
        key = self.decode_key(text)
        return None if key is None else self.unpermute(key)

    def decode_key(self, text: str) -> int | None:
        if not text.startswith(self.prefix) or len(text) != len(self.prefix) + _WIDTH + self.tail:
            return None
        body = text[len(self.prefix) :]
        key = _unb62(body[:_WIDTH])
        if key is None or key >= 1 << 64 or self._tag(key) != body[_WIDTH:]:
            return None
        return key
