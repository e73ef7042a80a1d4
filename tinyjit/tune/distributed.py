"""``--ray auto|ADDRESS``: candidates measured as Ray tasks (``pip install 'tinyjit[distributed]'``).

- QEMU instruction counts do not depend on load: every candidate is one Ray task of one CPU,
  so the cluster's cores all fill.
- Host timings do: one actor per node (pinned with a node-affinity strategy) measures that
  node's share of a batch one candidate at a time, so two timings never share a machine. The
  final interleaved comparison of a layer runs on one actor, in the same conditions for all.
  (Timings from different nodes are only comparable when the nodes are the same machine type.)

Results come back in the order the searcher proposed them, so the search sees the same history
as a local run: with the same seed it proposes the same candidates.
"""
from __future__ import annotations

import socket
import threading
from urllib.parse import urlparse

from ..errors import TinyJitError

CONNECT_TIMEOUT = 25.0     # seconds: an address that does not answer is an error well within 30 s


def _ray():
    try:
        import ray
    except ImportError:
        raise TinyJitError("--ray needs Ray: pip install 'tinyjit[distributed]'") from None
    return ray


def connect(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Join the Ray cluster at ``address`` ("auto": the one running on this machine; "local": start
    one here), or use the instance this process already started."""
    ray = _ray()
    if ray.is_initialized():
        return
    if address == "local":
        ray.init(log_to_driver=False, include_dashboard=False)
        return
    if address != "auto":
        host, port = _host_port(address)
        try:
            socket.create_connection((host, port), timeout=min(10.0, timeout)).close()
        except OSError as e:
            raise TinyJitError(f"no Ray cluster answers at {address} ({host}:{port}: {e.strerror or e}); "
                               "start one with `ray start --head` or give its address") from None
    error: list = []

    def init():   # in a thread: a server that accepts but never answers must not hang the tuner
        try:
            ray.init(address=address, log_to_driver=False)
        except Exception as e:      # noqa: BLE001 - reported below as one line
            error.append(e)

    thread = threading.Thread(target=init, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TinyJitError(f"the Ray cluster at {address} did not accept a connection within {timeout:.0f} s")
    if error:
        hint = " (no Ray instance runs on this machine: `ray start --head`, or --ray ADDRESS)" if address == "auto" else ""
        raise TinyJitError(f"could not connect to Ray at {address}: {' '.join(str(error[0]).split())[:300]}{hint}")


def _host_port(address: str) -> tuple[str, int]:
    url = urlparse(address if "://" in address else f"tcp://{address}")
    if not url.hostname or url.port is None:
        raise TinyJitError(f"--ray {address!r}: expected auto, local, HOST:PORT or ray://HOST:PORT")
    return url.hostname, url.port


def _remote_measure():
    ray = _ray()

    @ray.remote(num_cpus=1, max_retries=0)
    def measure_one(runner, task, schedule):
        return runner.measure_one(task, schedule)
    return measure_one


class _HostActor:
    def __init__(self, runner):
        self.runner = runner

    def measure_one(self, task, schedule):
        return self.runner.measure_one(task, schedule)

    def compare_interleaved(self, task, schedules):
        return self.runner.compare_interleaved(task, schedules)


class RayRunner:
    """A local runner's measurements, spread over a Ray cluster."""

    def __init__(self, runner):
        ray = _ray()
        self.runner = runner
        self.unit, self.deterministic = runner.unit, runner.deterministic
        self.name = f"{runner.name}+ray"
        self._tasks: dict[str, object] = {}
        self._actors = []
        self._runner_ref = ray.put(runner)
        if runner.deterministic:
            self._measure = _remote_measure()
        else:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
            actor = ray.remote(num_cpus=1)(_HostActor)
            for node in ray.nodes():
                if node.get("Alive") and node.get("Resources", {}).get("CPU", 0) >= 1:
                    strategy = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
                    self._actors.append(actor.options(scheduling_strategy=strategy).remote(runner))
            if not self._actors:
                raise TinyJitError("the Ray cluster has no node with a free CPU for host timing")

    def _task_ref(self, task):
        ray = _ray()
        if task.id not in self._tasks:
            self._tasks[task.id] = ray.put(task)
        return self._tasks[task.id]

    def _results(self, futures):
        """The results in the order proposed, each as soon as it and those before it are done."""
        ray = _ray()
        try:
            for f in futures:
                yield ray.get(f)
        except KeyboardInterrupt:
            for f in futures:
                ray.cancel(f, force=True)
            raise

    def measure(self, task, schedules: list[dict]):
        ref = self._task_ref(task)
        if self.deterministic:
            futures = [self._measure.remote(self._runner_ref, ref, s) for s in schedules]
        else:
            futures = [self._actors[i % len(self._actors)].measure_one.remote(ref, s)
                       for i, s in enumerate(schedules)]
        return self._results(futures)

    def compare_interleaved(self, task, schedules):
        if self.deterministic:
            return list(self.measure(task, schedules))
        return _ray().get(self._actors[0].compare_interleaved.remote(self._task_ref(task), schedules))

    def close(self):
        ray = _ray()
        for a in self._actors:
            ray.kill(a)
        self._actors = []
        close = getattr(self.runner, "close", None)
        if close:
            close()
