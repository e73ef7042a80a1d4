"""One partition in its own process: ``python -m tinyjit.deploy.worker PART.tjm ...``.

It listens on a loopback port (printed as ``READY <port>`` once its plan is compiled), reads
``NEXT <port>`` (its downstream) from stdin, accepts its upstream, connects downstream, and for every message: runs its partition (or relays when
it has no steps), waits until the device's predicted compute time has passed (``--pace``),
emulates the outgoing link (``--delay`` seconds plus bytes at ``--bandwidth`` bit/s, slept in
the sender), and sends the result on. Any error goes downstream as an error message.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import time
import traceback

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
    from ..executor import Executor
    plan = tjm.load(args.model)
    executor = Executor(plan) if plan.steps else None
    in_specs = [plan.tensors[i] for i in plan.inputs]
    out_specs = [plan.tensors[i] for i in plan.outputs]
    if executor is not None:   # compile before saying ready
        executor.run([np.zeros(t.shape, t.dtype) for t in in_specs])

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
            if args.fault == "exit":
                os._exit(3)
            if args.fault == "hang":
                time.sleep(3600)
            try:
                t0 = time.perf_counter()
                by_name = {h["name"]: a for h, a in msg}
                missing = [t.name for t in in_specs if t.name not in by_name]
                if missing:
                    raise ValueError(f"{args.model}: inputs {missing} did not arrive")
                if executor is None:
                    outputs = [by_name[t.name] for t in out_specs]
                else:
                    outputs = executor.run([np.ascontiguousarray(by_name[t.name]) for t in in_specs])
                frames = [wire.encode(t.name, a, t.quant) for t, a in zip(out_specs, outputs)]
                nbytes = sum(a.nbytes for a in outputs)
                # the device's compute time, then the link: one deadline, so sleeps do not add up
                computed = max(t0 + args.pace, time.perf_counter())
                sleep_until(computed + args.delay + (nbytes * 8 / args.bandwidth if args.bandwidth else 0.0))
                wire.send_message(down, frames)
            except Exception as e:
                wire.send_control(down, wire.ERROR, f"{os.path.basename(args.model)}: {type(e).__name__}: {e}")
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
