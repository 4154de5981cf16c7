"""Tables of JSON pieces for the fast renderer, computed once at import.

Every string of an asset's JSON that depends only on a small code (type, mime, size class,
tags, capabilities, collection, ...) is rendered here once, with orjson itself, so that
`fast_render.FastRenderer.page_json` only concatenates and its output stays byte for byte
what `orjson.dumps(Renderer.page(...))` writes.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from .generator import PRIVACIES
from .ids import Codec, _b62_into
from .render import (
    _NEGATIVES,
    _ODD,
    _SIZES,
    _STATUS,
    _TYPE_INFO,
    CDN,
    KEY_PAIR_ID,
    U64,
    mix,
)
from .vocab import (
    EDIT_CAPABILITIES,
    FORMAT_BY_MIME,
    NAME_STEMS,
    NEGATIVE_WORDS,
    SCHEDULERS,
    TAGS,
    TYPES,
    WORDS,
)

# -- the fast path: JSON text straight from the columns ------------------------------------
#
# `Renderer.page` (above) builds dicts that orjson serializes: ~60 µs per asset, most of it in
# the dict building. `FastRenderer.page_json` writes the very same JSON text (byte for byte:
# same keys, same order, same number formatting) with f-strings from prepared pieces: every
# string that depends only on a small code (type, mime, size class, tags, capabilities,
# collection...) is rendered once into a table, every number orjson would format as a float
# goes through orjson itself (memoized), and the per-asset loop only concatenates.


def _js(value: Any) -> str:
    """The JSON text orjson writes for `value` (used to fill the tables, not per asset)."""
    return orjson.dumps(value).decode()


def _plain(text: str) -> bool:
    """True when `text` needs no JSON escaping (so it can be pasted between quotes)."""
    return _js(text) == f'"{text}"'


assert all(
    _plain(s)
    for table in (WORDS, NEGATIVE_WORDS, NAME_STEMS, SCHEDULERS, TAGS, TYPES, EDIT_CAPABILITIES,
                  _NEGATIVES, tuple(FORMAT_BY_MIME), PRIVACIES, _STATUS, (CDN, KEY_PAIR_ID))
    for s in table
)  # fmt: skip
_KIND_CODES = tuple(dict.fromkeys(k for _, k, _, _ in _TYPE_INFO))
_TC_KIND = np.array([_KIND_CODES.index(k) for _, k, _, _ in _TYPE_INFO], dtype=np.int64)
_TC_NMIME = np.array([len(m) for _, _, m, _ in _TYPE_INFO], dtype=np.int64)
_NO_EDITS = (b"[]",) * 2048
_KC_3D = _KIND_CODES.index("3d")


def _shape_table() -> list[tuple[str, str, str, int, bool]]:
    """Per (type code, mime pick, size class): the pieces that depend only on them.

    (`"mimeType":…,"kind":…,"source":…`, the properties after `size`, the metadata head,
    flavour: 0 plain, 1 visual, 2 video, 3 audio; whether the type is an upscale.)
    """
    out = []
    for type_name, kind, mimes, visual in _TYPE_INFO:
        upscale = type_name.startswith("upscale")
        for m in range(3):
            mime = mimes[m % len(mimes)]
            fmt = FORMAT_BY_MIME[mime]
            head = f'"mimeType":"{mime}","kind":"{kind}","source":"{type_name}"'
            meta = f'{{"type":"{type_name}","kind":"{kind}"'
            for wh in range(6):
                width, height = _SIZES[wh]
                if visual:
                    props = f',"width":{width},"height":{height},"format":"{fmt}"'
                    if kind == "video":
                        out.append((head, props + ',"duration":', meta, 2, upscale))
                        continue
                    out.append((head, props + "}", meta + f',"width":{width},"height":{height}',
                                1, upscale))  # fmt: skip
                elif kind == "audio":
                    out.append((head, f',"format":"{fmt}"}}', meta, 3, upscale))
                else:
                    out.append((head, f',"format":"{fmt}"}}', meta, 0, upscale))
    return out


_SHAPES = _shape_table()
_SHAPE_HEAD = tuple(("," + shape[0]).encode() for shape in _SHAPES)
_SHAPE_PROPS = tuple(shape[1] for shape in _SHAPES)
_SHAPE_PROPS_BYTES = tuple(shape[1].encode() for shape in _SHAPES)
_SHAPE_META = tuple((',"metadata":' + shape[2]).encode() for shape in _SHAPES)
_SHAPE_FLAVOUR = np.array([shape[3] for shape in _SHAPES], dtype=np.int64)
_SHAPE_UPSCALE = np.array([shape[4] for shape in _SHAPES], dtype=bool)
_NSFW = (b"", b',"nsfw":[]', b',"nsfw":["suggestive"]')
_HIDDEN = (b"", b',"isHidden":false', b',"isHidden":true')
_KEY_PAIR = f'&Key-Pair-Id={KEY_PAIR_ID}"'.encode()
_THUMB_URL = f'","url":"{CDN}/thumbs/'.encode()
_ORIGINAL_URL = f',"originalFileUrl":"{CDN}/assets/'.encode()
_URL_ORIGINAL = f'","url":"{CDN}/assets/'.encode()
_URL_TRANSFORM = f'","url":"{CDN}/assets-transform/'.encode()
_GUIDANCE = tuple(_js(3.5 + k / 2) for k in range(8))
_PRIV_JSON = tuple(f',"privacy":"{p}","tags":'.encode() for p in PRIVACIES)
#: By the salt's 7-bit status field (as `page` maps it: `_STATUS[min(field % 100, 4)]`).
_STATUS_JSON = tuple(
    f',"status":"{_STATUS[min(k % 100, 4)]}","editCapabilities":'.encode() for k in range(128)
)
_NEG_JSON = (*(f',"negativePrompt":"{s}"' for s in _NEGATIVES), "")


_D4 = tuple(f"{k:04d}" for k in range(10_000))
_STEMS = tuple(NAME_STEMS[k % len(NAME_STEMS)] for k in range(256))  # by the 8-bit field
_N_WORDS = len(WORDS)
_CAPTIONS = tuple(tuple(f',"automaticCaptioning":"{a} {b}"'.encode() for b in WORDS) for a in WORDS)
_EDITED = ' — édité ✨"'.encode()
_SCHED_JSON = tuple(f',"scheduler":"{s}"' for s in SCHEDULERS)


_DAY_MS = 86_400_000
_ROW_WIDTH = 211
_CHUNK = 1 << 17
_DAYS = 1 << 16  # 1970 .. 2149: the day table covers any plausible clock
_D2 = np.frombuffer("".join(f"{k:02d}" for k in range(100)).encode(), np.uint8).reshape(100, 2)
_D3 = np.frombuffer("".join(f"{k:03d}" for k in range(1000)).encode(), np.uint8).reshape(-1, 3)
_STAMP = np.frombuffer(b"YYYY-MM-DDT00:00:00.000Z", np.uint8)


def _versioned(salt: U64, version: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    """Per row: thumbnail id digits (22) and URL signatures (64), as `Renderer.page` draws
    them from the version's hash."""
    h = mix(salt ^ version.astype(np.uint64))
    rand = h[:, None] * _ODD[None, :]
    rand ^= rand >> np.uint64(29)  # 8 words: 6 for the URL signatures, 2 for a thumbnail id
    out = np.empty((len(salt), 86), dtype=np.uint8)
    out[:, :22] = _b62_pairs(rand[:, 6], rand[:, 7])
    sigs = base64.urlsafe_b64encode(np.ascontiguousarray(rand[:, :6]).tobytes())
    out[:, 22:] = np.frombuffer(sigs, dtype=np.uint8).reshape(-1, 64)
    return out


class _Ids(dict[int, str]):
    """Ids of a small family (projects, authors, models...), encoded on first use."""

    def __init__(self, codec: Codec) -> None:
        super().__init__()
        self.codec = codec

    def __missing__(self, index: int) -> str:
        text = self[index] = self.codec.encode(index)
        return text


def _b62_pairs(keys: U64, tags: U64) -> npt.NDArray[np.uint8]:
    """Rows of 22 ASCII digits: base62(key) + base62(tag), the body of a 2x11-digit id."""
    out = np.empty((len(keys), 22), dtype=np.uint8)
    _b62_into(keys, out[:, :11])
    _b62_into(tags, out[:, 11:])
    return out


def _rows_text(table: npt.NDArray[np.uint8]) -> list[str]:
    """One ASCII string per row of a uint8 table."""
    width = table.shape[1]
    text = table.tobytes().decode("ascii")
    return [text[k : k + width] for k in range(0, len(text), width)]


def _rows(table: npt.NDArray[np.uint8]) -> list[bytes]:
    """One bytes object per row of a uint8 table, trailing NULs dropped (so an all-zero row
    is b""): numpy makes them in C, several times faster than slicing in Python."""
    table = np.ascontiguousarray(table)
    return table.view(f"S{table.shape[1]}").ravel().tolist()  # type: ignore[no-any-return]


_TEMPLATES: dict[tuple[bytes | int, ...], npt.NDArray[np.uint8]] = {}


def _layout(n: int, parts: list[bytes | npt.NDArray[np.uint8]]) -> npt.NDArray[np.uint8]:
    """The parts side by side (constants, or (n, width) ASCII tables), one row each.

    The constants are written once into a template row (memoized by layout), which is
    broadcast to the `n` rows in one copy; only the tables are then assigned.
    """
    key = tuple(p if isinstance(p, bytes) else p.shape[1] for p in parts)
    template = _TEMPLATES.get(key)
    if template is None:
        template = np.frombuffer(
            b"".join(p if isinstance(p, bytes) else b"\0" * p for p in key), np.uint8
        )[None, :]
        _TEMPLATES[key] = template
    out = np.repeat(template, n, axis=0)
    pos = 0
    for part, width in zip(parts, key, strict=True):
        if isinstance(width, bytes):
            pos += len(width)
        else:
            out[:, pos : pos + width] = part
            pos += width
    return out


def _assemble(n: int, parts: list[bytes | npt.NDArray[np.uint8]],
              keep: npt.NDArray[np.bool_] | None = None) -> list[bytes]:  # fmt: skip
    """One bytes object per row: the parts side by side; b"" where `keep` is False."""
    out = _layout(n, parts)
    if keep is not None:
        out[~keep] = 0
    return _rows(out)


def _expires(created: npt.NDArray[np.int64],
             version: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:  # fmt: skip
    """The URLs' `Expires` (seconds) as 10 ASCII digits, or `0000000000` when it has another
    width (never for dates from 2001 to 2286): `page_json` then renders the slow way."""
    expires = created // 1000 + 2_592_000 * (1 + version.astype(np.int64))
    expires[(expires < 10**9) | (expires >= 10**10)] = 0
    return _digits(expires, 10)


def _digits(values: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint8]:
    """Zero-padded decimal ASCII of non-negative values below 10**width (width even)."""
    out = np.empty((len(values), width), dtype=np.uint8)
    v = values.copy()
    for col in range(width - 2, -1, -2):
        out[:, col : col + 2] = _D2[v % 100]
        v //= 100
    return out


def _decimal(values: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint8]:
    """Decimal ASCII of positive values below 10**width, left-aligned and NUL-padded (how
    `_rows` wants a variable-width number)."""
    padded = _digits(values, width + width % 2)[:, width % 2 :]
    out = np.zeros_like(padded)
    n_digits = np.ones(len(values), dtype=np.int64)
    for d in range(1, width):
        n_digits += values >= 10**d
    for d in np.unique(n_digits).tolist():
        rows = n_digits == d
        out[rows, :d] = padded[rows, width - d :]
    return out


def _small_ids(codec: Codec, index: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    """Ids of a small family (projects, teams, authors) for many rows: encode the distinct
    indices, then gather. Every id of a family has the same length."""
    if len(index) == 0:
        return np.empty((0, len(codec.encode(0))), dtype=np.uint8)
    distinct, inverse = np.unique(index, return_inverse=True)
    table = [codec.encode(int(k)).encode() for k in distinct.tolist()]
    return np.frombuffer(b"".join(table), np.uint8).reshape(len(table), -1)[inverse]


class _Memo(dict[int, bytes]):
    """A piece of JSON by small code, made on first use by `make`."""

    def __init__(self, make: Callable[[int], bytes]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, code: int) -> bytes:
        text = self[code] = self.make(code)
        return text
