"""The framed tensor format on the wire (loopback TCP between partitions).

A message is a 4-byte count of tensors (0xFFFFFFFF: stop; 0xFFFFFFFE: an error text follows as
one frame; 0xFFFFFFFD: a calibration message follows), an 8-byte double *not before* (the time,
on this machine's monotonic clock, at which the emulated link delivers the message: the receiver
waits until then), then that many frames. A frame is:

    b"TJT1" | u32 header length | header (JSON: name, dtype, shape, scale, zero_point, axis) | data

The data is the tensor's C-order bytes, as many as dtype and shape say. A *calibration* message
goes through the same processes, sockets, framing and emulated links as an inference, but no
partition computes (each sends zeros of its outputs' shapes): its time is the runtime's own.
"""
from __future__ import annotations

import json
import socket
import struct
from typing import NamedTuple

import numpy as np

from ..errors import TinyJitError

MAGIC = b"TJT1"
STOP = 0xFFFFFFFF
ERROR = 0xFFFFFFFE
CALIBRATE = 0xFFFFFFFD
DTYPES = {"bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "float16", "float32", "float64"}
MAX_HEADER = 1 << 16


class PeerClosed(TinyJitError):
    """The other end closed the connection."""


class Message(NamedTuple):
    frames: list            # [(header, array)]
    calibrate: bool
    not_before: float       # time.perf_counter() at which the emulated link delivers it


def recv_exact(sock: socket.socket, n: int) -> bytearray:
    """Exactly ``n`` bytes, as a bytearray: arrays over it are writable (numba compiles a read-only
    array as another type, so a plan warmed up on writable inputs would compile again)."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise PeerClosed(f"connection closed after {got} of {n} bytes")
        got += k
    return buf


def encode(name: str, array: np.ndarray, quant=None) -> bytes:
    array = np.ascontiguousarray(array)
    header = {"name": name, "dtype": array.dtype.name, "shape": list(array.shape)}
    if quant is not None:
        header.update(scale=np.asarray(quant.scale, np.float64).reshape(-1).tolist(),
                      zero_point=np.asarray(quant.zero_point, np.int64).reshape(-1).tolist(), axis=quant.axis)
    head = json.dumps(header, separators=(",", ":")).encode()
    return MAGIC + struct.pack("<I", len(head)) + head + array.tobytes()


def send_message(sock: socket.socket, frames: list[bytes], calibrate: bool = False, not_before: float = 0.0) -> None:
    prefix = struct.pack("<I", CALIBRATE) if calibrate else b""
    sock.sendall(prefix + struct.pack("<Id", len(frames), not_before) + b"".join(frames))


def send_control(sock: socket.socket, code: int, text: str = "") -> None:
    data = struct.pack("<I", code)
    if code == ERROR:
        body = text.encode()[:MAX_HEADER]
        data += struct.pack("<I", len(body)) + body
    sock.sendall(data)


def recv_message(sock: socket.socket) -> Message | None:
    """The next Message, or None for STOP; an ERROR message raises it."""
    (count,) = struct.unpack("<I", recv_exact(sock, 4))
    calibrate = count == CALIBRATE
    if calibrate:
        (count,) = struct.unpack("<I", recv_exact(sock, 4))
    if count == STOP:
        return None
    if count == ERROR:
        (n,) = struct.unpack("<I", recv_exact(sock, 4))
        raise TinyJitError(bytes(recv_exact(sock, n)).decode(errors="replace"))
    if count > 4096:
        raise TinyJitError(f"bad message: {count} tensors")
    (not_before,) = struct.unpack("<d", recv_exact(sock, 8))
    out = []
    for _ in range(count):
        if recv_exact(sock, 4) != MAGIC:
            raise TinyJitError("bad frame: no TJT1 magic")
        (n,) = struct.unpack("<I", recv_exact(sock, 4))
        if n > MAX_HEADER:
            raise TinyJitError(f"bad frame: a {n}-byte header")
        header = json.loads(recv_exact(sock, n))
        dtype = header.get("dtype")
        shape = header.get("shape")
        if dtype not in DTYPES or not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise TinyJitError(f"bad frame header {header}")
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        data = recv_exact(sock, nbytes)
        out.append((header, np.frombuffer(data, dtype=dtype).reshape(shape)))
    return Message(out, calibrate, not_before)
