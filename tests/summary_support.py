"""What the codec tests share: a swarm key, one header's fields, and where a tagged
histogram's body starts in the payload they encode."""

KEY = b"swarm-key-0123456789"
HEADER = {"agent": "agent-0001", "round": 7, "sequence": 42, "timestamp_us": 1_800_000_000_000_000}
BODY = 26 + len("agent-0001")  # where the histogram body starts
