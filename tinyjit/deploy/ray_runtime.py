"""``tinyjit plan ... --execute --ray ADDRESS``: the partitions as Ray actors, one per device.

Each partition that runs steps becomes an actor placed by the custom resource naming its device
(``device:esp32``: a node that stands for, or is, the ESP32 declares it with
``ray start --resources '{"device:esp32": 1}'``). The driver plays the sensor: it chains
``actor.run`` calls, each taking the previous one's object ref, so the tensors go from actor to
actor through Ray's object store, and it gets the last one's answer. Links are emulated as in the
loopback runtime: a result carries the time its link delivers it, and the receiver waits until
then; devices that are not this machine's kind are paced to their predicted compute time
(``emulate="device"``). Calibration passes (nothing computed) measure Ray's own overhead.

``ADDRESS``: ``auto`` (the cluster running on this machine), ``HOST:PORT`` or ``ray://HOST:PORT``
(an address that does not answer is an error within 30 s), or ``local`` (start a Ray instance
here that offers every device of the plan: to try it without a cluster).
"""
from __future__ import annotations

import os
import socket
import time

from ..errors import TinyJitError
from .planner import Candidate, Planner

RESOURCE = "device:{}"
READY_TIMEOUT = 300.0


class PartitionActor:
    """One partition on the node offering its device (wrapped by ``ray.remote`` when used)."""

    def __init__(self, tjm_bytes: bytes, pace: float, delay: float, bandwidth: float, name: str):
        from .. import format as tjm
        from .worker import Emulation, Partition
        self.part = Partition(tjm.load(tjm_bytes), Emulation(pace, delay, bandwidth), name)

    def where(self) -> dict:
        import ray
        return {"pid": os.getpid(), "host": socket.gethostname(), "node_id": ray.get_runtime_context().get_node_id()}

    def run(self, message: tuple, calibrate: bool = False) -> tuple:
        """``message`` = ({name: array}, not_before) -> (outputs as {name: array}, not_before)."""
        from .worker import sleep_until
        by_name, not_before = message
        sleep_until(not_before)
        t0 = time.perf_counter()
        outputs = self.part.outputs(by_name, calibrate)
        deliver = self.part.emulation.deliver_at(t0, sum(a.nbytes for a in outputs))
        return {t.name: a for t, a in zip(self.part.out_specs, outputs)}, deliver


def _connect(address: str, devices: list[str]) -> bool:
    """Joins (or, for ``local``, starts) Ray; True if this call started the connection."""
    from ..tune.distributed import _ray, connect
    ray = _ray()
    if ray.is_initialized():
        return False
    if address == "local":
        ray.init(num_cpus=max(2, os.cpu_count() or 2), resources={RESOURCE.format(d): 1 for d in devices},
                 include_dashboard=False, log_to_driver=False)
    else:
        connect(address)
    return True


def execute_on_ray(planner: Planner, cand: Candidate, address: str, inputs=None, runs: int = 5,
                   emulate: str = "device", timeout: float | None = None) -> dict:
    from ..tune.distributed import _ray
    from .runtime import measure, prepare, summarize
    from .. import format as tjm
    setup = prepare(planner, cand, emulate, inputs, timeout)
    ray = _ray()
    first = 1 if setup.local_source else 0
    stages = list(range(first, len(setup.parts)))
    devices = [setup.stages[i].device for i in stages]
    started = _connect(address, devices)
    actors = []
    try:
        offered = ray.cluster_resources()
        missing = [d for d in devices if offered.get(RESOURCE.format(d), 0) < 1]
        if missing:
            raise TinyJitError(
                f"no node of the Ray cluster offers {', '.join(RESOURCE.format(d) for d in missing)}: start the node "
                f"that stands for each device with e.g. `ray start --address ADDRESS --resources "
                f"'{{\"{RESOURCE.format(missing[0])}\": 1}}'` (resources offered: "
                f"{', '.join(sorted(k for k in offered if k.startswith('device:'))) or 'no device:* at all'})")
        remote = ray.remote(PartitionActor)
        for i in stages:
            em = setup.emulations[i]
            name = f"part{i}-{setup.stages[i].device}"
            actors.append(remote.options(resources={RESOURCE.format(setup.stages[i].device): 1}, num_cpus=0,
                                         max_restarts=0, max_task_retries=0)
                          .remote(tjm.to_bytes(setup.parts[i]), em.pace, em.delay, em.bandwidth, name))
        placed = _get(ray, [a.where.remote() for a in actors], READY_TIMEOUT,
                      f"the partition actors were not ready within {READY_TIMEOUT:.0f} s (is a device:* resource "
                      "taken by another run?)")
        names = [setup.parts[0].tensors[i].name for i in setup.parts[0].inputs]
        source = setup.emulations[0] if setup.local_source else None
        in_bytes = sum(x.nbytes for x in setup.inputs)
        inputs = dict(zip(names, setup.inputs))

        def one_pass(calibrate: bool):
            t0 = time.perf_counter()
            ref = (inputs, source.deliver_at(t0, in_bytes) if source else t0)    # by value: Ray resolves
            # only refs given as whole arguments, as the later calls' are
            for a in actors:
                ref = a.run.remote(ref, calibrate)
            outputs, not_before = _get(ray, ref, setup.timeout_s,
                                       f"no answer within {setup.timeout_s:.0f} s (a partition actor hangs?)")
            return max(time.perf_counter(), not_before) - t0, [({"name": k}, v) for k, v in outputs.items()]

        times, calibration, got = measure(one_pass, runs)
    finally:
        for a in actors:
            try:
                ray.kill(a)
            except Exception:      # noqa: BLE001 - already gone
                pass
        if started:
            ray.shutdown()
    return summarize(setup, times, calibration, got, hops=len(actors) + 1,
                     extra={"runtime": f"Ray at {address}, one actor per partition",
                            "placement": [{"device": setup.stages[i].device, "resource": RESOURCE.format(
                                setup.stages[i].device), **p} for i, p in zip(stages, placed)]})


def _get(ray, refs, timeout: float, what: str):
    from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError
    try:
        return ray.get(refs, timeout=timeout)
    except GetTimeoutError:
        raise TinyJitError(what + "; all partition actors were stopped") from None
    except RayActorError as e:
        raise TinyJitError(f"a partition actor died: {' '.join(str(e).split())[:300]}; "
                           "all partition actors were stopped") from None
    except RayTaskError as e:
        cause = e.cause if getattr(e, "cause", None) is not None else e
        raise TinyJitError(f"a partition actor failed: {type(cause).__name__}: "
                           f"{' '.join(str(cause).split())[:300]}; all partition actors were stopped") from None
