"""Policy rollout over the air: the operator signs a model and its card and publishes
them retained to the swarm; each agent checks, loads, smoke-tests and adopts them at
a tick boundary, and rolls back by itself when the new policy fails.

Agent side: :class:`~otswarm.rollout.adopter.PolicyRollout`. Operator side (the
``otswarm rollout`` command): :mod:`otswarm.rollout.campaign`. Wire format:
:mod:`otswarm.summaries.rollout`; guide: docs/fleet.md.
"""
