"""What an agent's process loads (issue #14): no ``cryptography`` without keys, no
Numba or SciPy's linear program before a stage needs them."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from otswarm.identity import Roster, generate_private_key
from otswarm.summaries import Histogram, decode, encode

# what `otswarm agent` imports before its first tick, and one HMAC-tagged round trip
AGENT_START = """
import json, sys
import numpy as np
import otswarm.cli, otswarm.commands.agent
from otswarm.agent.build import build_agent, make_link
from otswarm.agent.config import parse_config
from otswarm.summaries import Histogram, decode, encode
make_link(parse_config('[agent]\\nid = "a1"\\n'))
payload = encode(Histogram(np.ones(4) / 4), agent="a1", round=1, sequence=1,
                 timestamp_us=1, key=b"k")
assert decode(payload, key=b"k").message.weights.size == 4
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_an_agent_without_keys_loads_no_cryptography_numba_or_scipy():
    out = subprocess.run(
        [sys.executable, "-c", AGENT_START], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    loaded = set(json.loads(out.stdout))
    assert "otswarm" in loaded and "numpy" in loaded  # it did import the agent
    assert not loaded & {"cryptography", "numba", "llvmlite", "scipy"}


def test_keys_still_sign_and_verify_through_the_lazy_import():
    key = generate_private_key()
    roster = Roster("s", 1, {"a1": key.public_key()})
    payload = encode(
        Histogram(np.ones(4) / 4), agent="a1", round=1, sequence=1, timestamp_us=1, signer=key
    )
    assert decode(payload, roster=roster).header.agent_signed


# an agent's consensus round and drift check, as its tick runs them
CONSENSUS_ROUND = """
import sys
import numpy as np
from otswarm.coordination.alignment import PolicyAligner
x = np.linspace(0.0, 1.0, 5)
aligner = PolicyAligner(x)
aligner.apply(np.ones(5) / 5)
aligner.consensus_round([np.array([0.5, 0.5, 0, 0, 0]), np.array([0, 0, 0, 0.5, 0.5])])
aligner.apply(np.array([0.1, 0.2, 0.3, 0.2, 0.2]))  # through the monotone kernel
assert "numpy.ma" not in sys.modules, "numpy.ma was imported"
"""


def test_a_consensus_round_does_not_import_numpy_ma():
    # np.unique's first call imports numpy.ma: ~60 ms inside a tick
    out = subprocess.run(
        [sys.executable, "-c", CONSENSUS_ROUND], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
