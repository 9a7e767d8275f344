"""File names as they may be shown and stored: one escaping, used wherever a name is printed.

A name in the inbox is whatever bytes the producer chose. `os.listdir` hands back bytes that are
not UTF-8 as lone surrogates (which neither SQLite nor PostgreSQL can store, nor a terminal
print), and a newline or another control character in a name would start a fake line in
stderr, the run's stored log and `status` (issue 11). `shown` makes such a name one printable
line; a plain name comes back as it is. Standard library only: the no-op tick uses it.
"""

from __future__ import annotations

import os
import unicodedata

# Characters that change how the text around them reads: Unicode's line and paragraph
# separators, and the bidirectional overrides that can show "gpj.exe" as "exe.jpg".
_SPOOFING = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown(name: str) -> str:
    """`name` with every byte that is not UTF-8 as `\\xNN`, and control characters escaped.

    Idempotent (what it returns contains nothing it escapes), so a name stored shown can be
    shown again. A backslash is left as it is: the content hash, not the shown name, is what
    identifies a file.
    """
    if name.isprintable() and not _SPOOFING.intersection(name):
        return name
    out = []
    for ch in name:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's escape of the byte code - 0xDC00
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch in _SHORT:
            out.append(_SHORT[ch])
        elif ch in _SPOOFING or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        elif ch == " " or unicodedata.category(ch)[0] not in "CZ" or ch.isprintable():
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return "".join(out)


def path_key(path: str) -> str:
    """A text key for a path that any database stores and that maps back to one path only.

    A path that is valid UTF-8 is its own key (keys saved before stay valid); one that is not is
    `bytes:` and its bytes in hex (a real path starts with "/", never with that).
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "bytes:" + os.fsencode(path).hex()
    if "\x00" in path:  # never from the file system; refused rather than stored ambiguously
        raise ValueError("a path with a NUL character")
    return path
