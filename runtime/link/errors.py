"""Typed errors of the swarm link."""

from otswarm.errors import OtswarmError


class LinkError(OtswarmError, RuntimeError):
    """The link is used wrongly (publish before start, after close) or is broken."""


class LinkConnectError(LinkError):
    """The broker could not be reached, refused us, or speaks no MQTT we know."""


class ThrottledError(OtswarmError):
    """A received message is refused by the link's bounds on the senders it tracks."""


class MembershipFullError(ThrottledError):
    """A new sender, while the receiver already tracks ``max_members`` senders."""


class RateLimitError(ThrottledError):
    """A sender over its message rate (its token bucket is empty)."""


class TopicError(OtswarmError, ValueError):
    """A topic does not follow ``otswarm/v1/<swarm>/<agent>/<kind>``."""
