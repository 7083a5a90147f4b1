"""Lines of a UTF-8 object streamed from S3, counting the bytes handed out (the checkpoint offset)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

CHUNK_BYTES = 1024 * 1024
BOM = b"\xef\xbb\xbf"
SNIFF_BYTES = 8192


class NotTextError(ValueError):
    """The object is not UTF-8 text (binary, or another encoding)."""


class CountingLines:
    """Iterate the lines of a byte stream that starts at `offset` of the object.

    `offset` always points just past the last line handed out: after a CSV record has been read, it
    is where a later invocation resumes. A BOM at the very start is skipped; a NUL byte in the first
    8 KB or bytes that are not UTF-8 raise NotTextError with the line number."""

    def __init__(self, body: Any, offset: int, first_line: int) -> None:
        self._body = body
        self.offset = offset
        self._line = first_line
        self._at_start = offset == 0

    @property
    def next_line(self) -> int:
        """The file line number of the next line to be handed out."""
        return self._line

    def __iter__(self) -> Iterator[str]:
        pending = b""
        for chunk in iter(lambda: self._body.read(CHUNK_BYTES), b""):
            if self._at_start:
                chunk = self._sniff(pending + chunk)
                pending = b""
            data = pending + chunk
            start = 0
            while (end := data.find(b"\n", start)) != -1:
                yield self._decode(data[start : end + 1])
                start = end + 1
            pending = data[start:]
        if pending:
            yield self._decode(pending)

    def _sniff(self, data: bytes) -> bytes:
        self._at_start = False
        if b"\x00" in data[:SNIFF_BYTES]:
            raise NotTextError("the file is binary, not a CSV text file")
        if data.startswith(BOM):
            self.offset += len(BOM)
            return data[len(BOM) :]
        return data

    def _decode(self, raw: bytes) -> str:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotTextError(f"line {self._line} is not UTF-8 (save the file as UTF-8): {exc.reason}") from exc
        self.offset += len(raw)
        self._line += 1
        return text
