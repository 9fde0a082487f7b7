"""Why an agent refuses a rollout: one typed error per reason, each with the short
``code`` that its :class:`~otswarm.summaries.RolloutStatus` carries."""

from otswarm.errors import OtswarmError


class RolloutError(OtswarmError, ValueError):
    """A rollout cannot be published or adopted; ``code`` names the reason on the wire."""

    code = "refused"


class NoOperatorKeyError(RolloutError):
    """The agent trusts no operator key (``[policy].operator_key`` unset): it adopts nothing."""

    code = "no_operator_key"


class UnsignedRolloutError(RolloutError):
    """The rollout carries no signature."""

    code = "unsigned"


class UntrustedKeyError(RolloutError):
    """The rollout is signed by a key other than the operator key the agent trusts."""

    code = "untrusted_key"


class BadSignatureError(RolloutError):
    """Signed with the trusted key's id, but the signature does not verify: the bytes
    were changed after signing (corrupted or tampered with)."""

    code = "bad_signature"


class WrongSwarmError(RolloutError):
    """The signed swarm name is not this agent's swarm."""

    code = "wrong_swarm"


class StaleRolloutError(RolloutError):
    """Issued before the rollout the agent runs (an old signed model replayed)."""

    code = "stale"


class ModelTooLargeError(RolloutError):
    """The model is larger than ``[policy].max_model_bytes``."""

    code = "too_large"


class CorruptModelError(RolloutError):
    """The card is not a valid model card, or LiteRT cannot load the model with it."""

    code = "corrupt"


class ContractMismatchError(RolloutError):
    """The card's observation layout or actions differ from what this agent feeds and acts on."""

    code = "contract"


class SmokeTestError(RolloutError):
    """The model loads, but its output on the board's current observation is not a
    probability distribution over the actions."""

    code = "smoke"
