"""One agent's loop: sense through the bridge, decide with the policy and OT, act, publish, book."""
