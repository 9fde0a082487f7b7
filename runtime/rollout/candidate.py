"""Turn a verified rollout into a policy this board can run, or say exactly why not.

In order, each step raising its own :class:`~otswarm.rollout.errors.RolloutError`:

1. size: the model is at most ``max_model_bytes``;
2. card: a valid model card (``otswarm-policy-card/1``);
3. contract: the card's observation names, in order, are the ones this agent
   feeds, and its action values are the ones it acts on (the duty levels its
   alignment runs on), so the new policy drops into the same tick;
4. load: the model and card are written to ``store_dir`` (named by the model's
   SHA-256) and opened by LiteRT as :class:`~otswarm.policy.Policy`, which
   checks the model's tensor sizes and quantisation against the card;
5. smoke: one inference on the board's current quantities, normalised as the
   new card says, must give a probability distribution ``p`` over the actions
   (``p_i`` finite, ``p_i >= 0``, ``sum p > 0``).

Only bytes the operator's key signed reach this module (the signature is checked
first, :mod:`otswarm.rollout.signing`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from otswarm.errors import PROJECT_ERRORS
from otswarm.policy import ModelCard, Policy, PolicyCardError, build_observation, card_path_for
from otswarm.rollout.errors import (
    ContractMismatchError,
    CorruptModelError,
    ModelTooLargeError,
    SmokeTestError,
)
from otswarm.summaries import Rollout


@dataclass(frozen=True)
class Contract:
    """What a policy must fit on this agent: the observation it is fed, the actions it
    chooses between, and the largest model the agent accepts (bytes)."""

    observation: tuple[str, ...]
    action_values: tuple[float, ...]
    max_model_bytes: int


def check_distribution(probs, n_actions: int, where: str) -> None:
    """Raise SmokeTestError unless ``probs`` is a distribution over ``n_actions`` actions."""
    p = np.asarray(probs, dtype=np.float64)
    if p.shape != (n_actions,):
        raise SmokeTestError(f"{where}: output shape {p.shape}, expected ({n_actions},)")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or not p.sum() > 0:
        raise SmokeTestError(
            f"{where}: output {np.round(p, 4).tolist()} is not a probability distribution"
        )


def _card(rollout: Rollout) -> ModelCard:
    try:
        return ModelCard.from_json(json.loads(rollout.card.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptModelError(f"the card is not JSON ({exc})") from exc
    except PolicyCardError as exc:
        raise CorruptModelError(f"the card is not a model card: {exc}") from exc
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a JSON of the wrong shape
        raise CorruptModelError(f"the card is not a model card ({exc!r})") from exc


def _check_contract(card: ModelCard, contract: Contract) -> None:
    if card.observation_names != contract.observation:
        raise ContractMismatchError(
            f"observation layout {list(card.observation_names)} (env {card.env!r}) is not the "
            f"{list(contract.observation)} this agent feeds"
        )
    if not np.allclose(card.action_values, contract.action_values) or len(
        card.action_values
    ) != len(contract.action_values):
        raise ContractMismatchError(
            f"actions {list(card.action_values)} are not the {list(contract.action_values)} "
            "this agent acts on"
        )


def _store(rollout: Rollout, store_dir: Path) -> Path:
    store_dir.mkdir(parents=True, exist_ok=True)
    stem = rollout.model_sha256.hex()[:16]
    model_path = store_dir / f"{stem}.tflite"
    model_path.write_bytes(rollout.model)
    card_path_for(model_path).write_bytes(rollout.card)
    return model_path


def load_candidate(
    rollout: Rollout,
    contract: Contract,
    store_dir: Path,
    quantities: Mapping[str, float],
    num_threads: int = 1,
) -> Policy:
    """The rollout's policy, loaded and smoke-tested (see the module docstring)."""
    size = len(rollout.model)
    if size > contract.max_model_bytes:
        raise ModelTooLargeError(
            f"the model is {size} bytes, this agent accepts at most {contract.max_model_bytes} "
            "([policy].max_model_bytes)"
        )
    card = _card(rollout)
    _check_contract(card, contract)
    model_path = _store(rollout, store_dir)
    try:
        try:
            policy = Policy(model_path, expected_observation=contract.observation,
                            num_threads=num_threads)  # fmt: skip
        except (PolicyCardError, RuntimeError) as exc:  # RuntimeError: LiteRT cannot allocate
            raise CorruptModelError(f"LiteRT cannot load the model with its card: {exc}") from exc
        smoke(policy, quantities)
    except (CorruptModelError, SmokeTestError):
        for path in (model_path, card_path_for(model_path)):
            path.unlink(missing_ok=True)  # a refused model does not stay on the board
        raise
    return policy


def smoke(policy: Policy, quantities: Mapping[str, float]) -> None:
    """One inference on ``quantities`` (the board's current readings)."""
    where = f"smoke inference of {policy.model_path.name}"
    try:
        probs = policy.action_probabilities(build_observation(quantities, policy.card.observation))
    except PROJECT_ERRORS as exc:
        raise SmokeTestError(f"{where} failed: {exc}") from exc
    except (RuntimeError, ValueError) as exc:  # LiteRT's invoke
        raise SmokeTestError(f"{where} failed in LiteRT: {exc}") from exc
    check_distribution(probs, len(policy.action_values), where)


def contract_of(policy: Policy, observation: Sequence[str], max_model_bytes: int) -> Contract:
    """The contract a rollout must meet to replace ``policy``."""
    return Contract(tuple(observation), tuple(policy.action_values), max_model_bytes)
