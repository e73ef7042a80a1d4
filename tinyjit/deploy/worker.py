"""One partition in its own process: ``python -m tinyjit.deploy.worker PART.tjm ...``.

It listens on a loopback port (printed as ``READY <port>`` once its plan is compiled), reads
``NEXT <port>`` (its downstream) from stdin, accepts its upstream, connects downstream, and for
every message: waits until the message's *not before* time (its upstream link delivers it then),
runs its partition (or relays when it has no steps), and sends the result on at once, stamped
*not before* = the end of the device's predicted compute time (``--pace``; or of the real
computation if that takes longer) + the outgoing link (``--delay`` seconds plus the bytes at
``--bandwidth`` bit/s). So the link is slept by the receiver while the data is already there:
one process wakes per hop, not two (the sender after its sleep and the receiver when the data
comes), and every wake-up on a busy machine is late by up to a scheduler tick. A calibration
message takes the same way without the computation. Any error goes downstream as an error
message.

``Partition`` is what a partition does with one message; the Ray actors (ray_runtime) use it too.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import time
import traceback
from dataclasses import dataclass

import numpy as np

from . import wire


def sleep_until(deadline: float) -> None:
    """time.sleep overshoots by a millisecond or more on a busy machine: sleep short, then spin."""
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            return
        if left > 0.002:
            time.sleep(left - 0.0015)


def writable(a: np.ndarray) -> np.ndarray:
    """The array as the executor was compiled for: writable, aligned, C-contiguous. Numba types a
    read-only array (np.frombuffer over bytes, Ray's zero-copy numpy) as another type, so such an
    input would compile the whole plan again."""
    if a.flags.writeable and a.flags.aligned and a.flags.c_contiguous:
        return a
    return np.array(a, order="C", copy=True)


@dataclass
class Emulation:
    """How long a device and its outgoing link take: the process sleeps the difference."""
    pace: float = 0.0         # seconds the device computes (0: as fast as this machine runs it)
    delay: float = 0.0        # one-way link latency, seconds
    bandwidth: float = 0.0    # link bit/s (0: unlimited, or no link)

    def link_s(self, nbytes: int) -> float:
        return self.delay + (nbytes * 8 / self.bandwidth if self.bandwidth else 0.0)

    def intended_s(self, nbytes: int) -> float:
        """What a message takes here when nothing is computed: the pace and the link."""
        return self.pace + self.link_s(nbytes)

    def deliver_at(self, t0: float, nbytes: int) -> float:
        """When the result reaches the next device, for a message taken up at ``t0``: the
        device's compute time (or the real one, if longer), then the link."""
        return max(t0 + self.pace, time.perf_counter()) + self.link_s(nbytes)


class Partition:
    """A partition plan, compiled and warmed up, that answers messages."""

    def __init__(self, plan, emulation: Emulation, name: str = ""):
        from ..executor import Executor
        self.name = name or plan.name
        self.emulation = emulation
        self.executor = Executor(plan) if plan.steps else None
        self.in_specs = [plan.tensors[i] for i in plan.inputs]
        self.out_specs = [plan.tensors[i] for i in plan.outputs]
        self.zeros = [np.zeros(t.shape, t.dtype) for t in self.out_specs]   # what a calibration sends
        if self.executor is not None:   # compile before saying ready
            self.executor.run([np.zeros(t.shape, t.dtype) for t in self.in_specs])

    @property
    def out_bytes(self) -> int:
        return sum(z.nbytes for z in self.zeros)

    def outputs(self, by_name: dict, calibrate: bool = False) -> list[np.ndarray]:
        missing = [t.name for t in self.in_specs if t.name not in by_name]
        if missing:
            raise ValueError(f"{self.name}: inputs {missing} did not arrive")
        if self.executor is None:
            return [by_name[t.name] for t in self.out_specs]
        if calibrate:
            return self.zeros
        return self.executor.run([writable(by_name[t.name]) for t in self.in_specs])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--pace", type=float, default=0.0, help="seconds the device takes to compute")
    ap.add_argument("--delay", type=float, default=0.0, help="one-way link latency, seconds")
    ap.add_argument("--bandwidth", type=float, default=0.0, help="link bit/s (0: unlimited)")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--fault", choices=["exit", "hang"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    from .. import format as tjm
    part = Partition(tjm.load(args.model), Emulation(args.pace, args.delay, args.bandwidth),
                     os.path.basename(args.model))

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(args.timeout)
    print(f"READY {server.getsockname()[1]}", flush=True)
    line = sys.stdin.readline().split()      # the parent answers with the downstream port
    if len(line) != 2 or line[0] != "NEXT":
        return 2
    up, _ = server.accept()
    up.settimeout(args.timeout)
    down = socket.create_connection(("127.0.0.1", int(line[1])), timeout=args.timeout)
    down.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            try:
                msg = wire.recv_message(up)
            except wire.PeerClosed:
                return 0
            except Exception as e:      # an upstream error: pass it on and stop
                wire.send_control(down, wire.ERROR, str(e))
                return 1
            if msg is None:
                wire.send_control(down, wire.STOP)
                return 0
            frames, calibrate, not_before = msg
            sleep_until(not_before)
            t0 = time.perf_counter()
            if args.fault == "exit" and not calibrate:
                os._exit(3)
            if args.fault == "hang" and not calibrate:
                time.sleep(3600)
            try:
                outputs = part.outputs({h["name"]: a for h, a in frames}, calibrate)
                frames = [wire.encode(t.name, a, t.quant) for t, a in zip(part.out_specs, outputs)]
                deliver = part.emulation.deliver_at(t0, sum(a.nbytes for a in outputs))
                wire.send_message(down, frames, calibrate, deliver)
            except Exception as e:
                wire.send_control(down, wire.ERROR, f"{part.name}: {type(e).__name__}: {e}")
                traceback.print_exc()
                return 1
    finally:
        for s in (up, down, server):
            try:
                s.close()
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(main())
