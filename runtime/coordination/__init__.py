"""Coordination on top of the OT kernels and the swarm link.

One module per capability, each usable alone: ``alignment`` (Wasserstein
consensus of action distributions), ``allocation`` (OT energy sharing),
``drift`` and ``adaptation`` (non-stationarity), ``clustering`` (scalability);
``costs`` builds cost matrices in joules (energy efficiency). See
docs/coordination.md.
"""
