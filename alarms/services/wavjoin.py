"""Joining WAV clips: PCM frames of the same parameters, concatenated with ``wave``.

Only WAV joins here (espeak-ng, the chime, a speech API asked for WAV). Compressed formats
(the speech API's default mp3, or opus) are not joined: an mp3 cut at a frame boundary
plays, but encoder delay and padding click at every seam, and Opus needs its Ogg pages
rewritten; a briefing in those formats is synthesised whole instead.
"""

from __future__ import annotations

import io
import wave

# A breath between sections, as a whole synthesis would leave between sentences.
GAP_MS = 120


class CannotJoin(ValueError):
    """The parts are not WAV, or their parameters (rate, width, channels) differ."""


def _frames(data: bytes) -> tuple[tuple[int, int, int], bytes]:
    try:
        with wave.open(io.BytesIO(data)) as reader:
            params = (reader.getnchannels(), reader.getsampwidth(), reader.getframerate())
            # espeak-ng streams with an unknown data size: read what is there.
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as exc:
        raise CannotJoin(f"not a readable WAV: {exc}") from exc
    return params, frames


def join_wav(parts: list[bytes], *, gap_ms: int = GAP_MS) -> bytes:
    """One WAV of ``parts`` in order, ``gap_ms`` of silence between them.

    Raises CannotJoin when a part is not WAV or differs in rate, width or channels.
    """
    if not parts:
        raise CannotJoin("nothing to join")
    params = None
    chunks: list[bytes] = []
    for data in parts:
        these, frames = _frames(data)
        if params is None:
            params = these
        elif these != params:
            raise CannotJoin(f"WAV parameters differ: {these} vs {params}")
        chunks.append(frames)
    channels, width, rate = params
    # 8-bit WAV is unsigned: its silence is 0x80; wider samples are signed.
    silence = (b"\x80" if width == 1 else b"\x00") * (int(rate * gap_ms / 1000) * channels * width)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(silence.join(chunks))
    return buffer.getvalue()
