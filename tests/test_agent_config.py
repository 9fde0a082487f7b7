"""The agent config: the documented example loads; every kind of bad input names its key."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from otswarm.agent.config import load_config, parse_config
from otswarm.agent.jsonlog import JsonLineFormatter
from otswarm.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "agent.example.toml"


def test_documented_example_loads_with_its_values():
    config = load_config(EXAMPLE)
    assert config.agent.id == "pi-garden-01"
    assert config.agent.swarm == "garden"
    assert config.link.url == "mqtt://127.0.0.1:1883"
    assert config.bridge.device == "/dev/ttyACM0"
    assert config.energy.ledger_dir == Path("/var/lib/otswarm")
    assert config.coordination.position_m == (0.0, 0.0, 0.0)
    assert config.coordination.alignment_anchor == 0.2
    assert config.coordination.bypass_alignment_below_soc == 0.3
    assert (config.link.session_expiry_s, config.link.max_offline_messages) == (300, 1000)


def test_minimal_config_takes_defaults():
    config = parse_config('[agent]\nid = "a1"\n')
    assert config.agent.tick_period_s == 1.0
    assert config.bridge.device is None
    assert config.policy.model == "harvest"


def test_an_integer_is_accepted_where_a_number_is_expected():
    config = parse_config('[agent]\nid = "a1"\ntick_period_s = 2\n')
    assert config.agent.tick_period_s == 2.0
    assert isinstance(config.agent.tick_period_s, float)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[agent]\nid = "a1"\n[link]\nurll = "mqtt://x"\n', "'urll'"),
        ('[agent]\nid = "a1"\n[bridge]\nbaudrate = "fast"\n', "[bridge].baudrate"),
        ('[agent]\nid = "a1"\n[bridge]\nbaudrate = true\n', "[bridge].baudrate"),
        ('[agent]\nid = "a1"\n[coordination]\ndrift_window = 2\n', "drift_window"),
        (
            '[agent]\nid = "a1"\n[coordination]\nallocation_method = "sinkhorn"\n',
            "allocation_method",
        ),
        ('[agent]\nid = "a1"\n[coordination]\nalignment = "yes"\n', "[coordination].alignment"),
        ('[agent]\nid = "a1"\ntick_period_s = 0\n', "tick_period_s"),
        ('[agent]\nid = "a b"\n', "[agent].id"),
        ('[agent]\nswarm = "s"\n', "'id'"),
        ('[agent]\nid = "a1"\n[polcy]\nmodel = "x"\n', "[polcy]"),
        ('[link]\nurl = "mqtt://x"\n', "[agent]"),
        ('[agent]\nid = "a1"\n[link]\nurl = "http://x"\n', "[link].url"),
        ('[agent]\nid = "a1"\n[link]\nmax_offline_messages = 0\n', "max_offline_messages"),
        ('[agent]\nid = "a1"\n[link]\nsession_expiry_s = -1\n', "session_expiry_s"),
        ('[agent]\nid = "a1"\n[link]\nsession_expiry_s = 1.5\n', "session_expiry_s"),
        ('[agent]\nid = "a1"\n[energy]\nledger_dir = 3\n', "[energy].ledger_dir"),
        ('[agent]\nid = "a1"\nlink = 3\n', "[agent]"),
        ('[agent\nid = "a1"\n', "not valid TOML"),
        ('[agent]\nid = "a1"\n[coordination]\nposition_m = [1.0, 2.0]\n', "position_m"),
        ('[agent]\nid = "a1"\n[coordination]\nposition_m = [1.0, "x", 2.0]\n', "position_m[1]"),
        ('[agent]\nid = "a1"\n[coordination]\nask_below_soc = 0.9\n', "ask_below_soc"),
        ('[agent]\nid = "a1"\n[coordination]\nalignment_anchor = 1.0\n', "alignment_anchor"),
        ('[agent]\nid = "a1"\n[coordination]\nalignment_anchor = "x"\n', "alignment_anchor"),
        (
            '[agent]\nid = "a1"\n[coordination]\nbypass_alignment_below_soc = 1.5\n',
            "bypass_alignment_below_soc",
        ),
    ],
)
def test_bad_config_raises_config_error_naming_the_key(text, named):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="board.toml")
    assert named in str(caught.value)
    assert str(caught.value).startswith("board.toml")


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_log_lines_are_json_with_agent_and_fields():

    record = logging.LogRecord(
        "otswarm.agent", logging.WARNING, __file__, 1, "bad %s", ("x",), None
    )
    record.fields = {"event": "drift", "w1": 0.25}
    entry = json.loads(JsonLineFormatter("a7").format(record))
    assert entry["agent"] == "a7"
    assert entry["msg"] == "bad x"
    assert entry["level"] == "warning"
    assert entry["event"] == "drift"
    assert entry["w1"] == 0.25


def test_link_settings_reach_the_mqtt_link():
    from otswarm.agent.build import make_link

    text = '[agent]\nid = "a1"\n[link]\nsession_expiry_s = 0\nmax_offline_messages = 7\n'
    link = make_link(parse_config(text))
    assert (link.config.session_expiry_s, link.config.max_offline_messages) == (0, 7)


def test_coordination_defaults_follow_the_outcomes_and_reach_the_coordination(tmp_path):
    """docs/coordination.md, "Defaults": greedy allocation, no alignment of the duty, a
    fixed rate (no drift monitor); each can be switched back on."""
    from otswarm.agent.build import make_coordination
    from otswarm.energy import EnergyLedger, load_profile
    from otswarm.link.inprocess import InProcessBus

    profile, levels = load_profile("x86-dev"), (0.0, 0.25, 0.5, 0.75, 1.0)
    ledger = EnergyLedger(tmp_path / "a1.ledger.sqlite", "a1", profile, start=False)
    default = parse_config('[agent]\nid = "a1"\n')
    assert (default.coordination.allocation_method, default.coordination.alignment) == (
        "greedy",
        False,
    )
    alignment, allocation = make_coordination(
        default, InProcessBus("d").link("a1"), ledger, profile, levels
    )
    assert allocation.method == "greedy" and alignment.drift is None
    on = parse_config(
        '[agent]\nid = "a1"\n[coordination]\nallocation_method = "ot"\ndrift = true\n'
    )
    alignment, allocation = make_coordination(
        on, InProcessBus("o").link("a1"), ledger, profile, levels
    )
    assert allocation.method == "ot" and alignment.drift is not None
    ledger.close()
