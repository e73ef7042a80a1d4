"""The deployment planner: where should a model run, on one device, over a cluster of edge
devices, or split between an edge device and a server?

One direction, like the rest of tinyjit:

    devices.toml ─┐
    Plan ──dataflow──▶ cut points ──profile──▶ per-step MACs, bytes, latency per device
                                               └──planner──▶ standalone | cloud-edge | edge-cluster
    winning plan ──partition──▶ one Plan (.tjm) per device ──runtime──▶ processes over TCP, or Ray actors

- ``devices``: the device and link database (devices.toml, extended by ``--device-file``).
- ``dataflow``: what each step reads and writes; which buffers cross a cut.
- ``partition``: a range of steps as a Plan of its own, with its own arena and weights.
- ``profile``: the model database (per step; measured on this machine or estimated).
- ``planner``: the three modes, their predicted latency and memory, and why the winner wins.
- ``runtime``: runs partitions in processes connected over loopback TCP with emulated links, and
  measures its own overhead with calibration passes; ``worker`` is one such process (``wire``:
  the framing); ``ray_runtime``: the same partitions as Ray actors placed by ``device:NAME``.
- ``report``: the text table, the JSON and the Gantt chart.
"""
