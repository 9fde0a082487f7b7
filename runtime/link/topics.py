"""The topic scheme and the delivery guarantees of each message kind.

Every summary travels on ``otswarm/v1/<swarm>/<agent>/<kind>`` where ``<agent>``
is the sender and ``<kind>`` is ``Kind.topic_name`` (``histogram``,
``point_cloud``, ``energy_offer``, ``allocation_plan``, ``heartbeat``,
``state``, ``telemetry``, ``transfer_report``). A broker ACL can therefore let each agent write only
``otswarm/v1/+/<its id>/#`` (see docs/mosquitto-fleet.md).

QoS per kind (why):

============== === ======== ===================================================
kind           QoS retained why
============== === ======== ===================================================
histogram      1   no       consensus needs every round's summary; duplicates
                            are dropped by the receiver's replay window
point_cloud    1   no       same as histogram
energy_offer   1   no       a lost offer leaves energy unallocated for a round
allocation_plan 2  no       a plan moves joules: exactly once, also for
                            receivers that just restarted (no window yet)
heartbeat      0   no       periodic; the next one replaces a lost one
state          1   yes      membership: online on connect, ``offline`` as the
                            last will and on a clean close; retained so a new
                            agent learns who is there at once
telemetry      1   yes      energy and state for operators, every telemetry_s;
                            retained so a late viewer sees the whole fleet
transfer_report 1  no       a supplier's account of what it sent; receivers
                            take each one in once per plan (kept by source)
rollout        1   yes      the operator's signed policy (sender ``operator``);
                            retained so a board offline during a rollout gets
                            the last one when it is back
rollout_status 1   yes      each agent's answer to it and the policy it runs
============== === ======== ===================================================
"""

from __future__ import annotations

from otswarm.link.errors import TopicError
from otswarm.summaries import Kind
from otswarm.summaries.errors import SummaryValueError
from otswarm.summaries.messages import check_id

PREFIX = "otswarm/v1"
QOS = {
    Kind.HISTOGRAM: 1,
    Kind.POINT_CLOUD: 1,
    Kind.ENERGY_OFFER: 1,
    Kind.ALLOCATION_PLAN: 2,
    Kind.HEARTBEAT: 0,
    Kind.STATE: 1,
    Kind.TELEMETRY: 1,
    Kind.TRANSFER_REPORT: 1,
    Kind.ROLLOUT: 1,
    Kind.ROLLOUT_STATUS: 1,
}
RETAINED = frozenset({Kind.STATE, Kind.TELEMETRY, Kind.ROLLOUT, Kind.ROLLOUT_STATUS})
#: the sender id of rollouts: the operator publishes them, it is not a member of the swarm
OPERATOR = "operator"
OPERATOR_KINDS = frozenset({Kind.ROLLOUT})
_KINDS_BY_NAME = {kind.topic_name: kind for kind in Kind}


def topic(swarm: str, agent: str, kind: Kind) -> str:
    """The topic ``agent`` publishes ``kind`` on."""
    return f"{PREFIX}/{swarm}/{agent}/{kind.topic_name}"


def topic_filter(swarm: str, kind: Kind, sender: str | None = None) -> str:
    """The subscription for ``kind`` from ``sender`` (every agent when None)."""
    return f"{PREFIX}/{swarm}/{sender or '+'}/{kind.topic_name}"


def roster_topic(swarm: str) -> str:
    """Where the operator publishes the swarm's signed roster (retained)."""
    return f"{PREFIX}/{swarm}/roster"


def parse_topic(name: str) -> tuple[str, str, Kind]:
    """``(swarm, agent, kind)`` of a topic, or TopicError saying what is wrong."""
    parts = name.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != PREFIX:
        raise TopicError(f"topic {name!r} is not {PREFIX}/<swarm>/<agent>/<kind>")
    swarm, agent, kind_name = parts[2:]
    kind = _KINDS_BY_NAME.get(kind_name)
    if kind is None:
        raise TopicError(f"topic {name!r}: unknown kind {kind_name!r}")
    try:
        check_id(swarm, "topic swarm")
        check_id(agent, "topic agent")
    except SummaryValueError as exc:
        raise TopicError(f"topic {name!r}: {exc}") from exc
    return swarm, agent, kind


def parse_filter(filter_: str) -> tuple[str, str | None, Kind]:
    """``(swarm, sender or None for '+', kind)`` of a filter made by :func:`topic_filter`."""
    parts = filter_.split("/")
    if len(parts) == 5 and parts[3] == "+":
        parts[3] = "_"  # any valid id, to reuse the topic checks
        swarm, _, kind = parse_topic("/".join(parts))
        return swarm, None, kind
    return parse_topic(filter_)
