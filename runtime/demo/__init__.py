"""``otswarm demo``: a swarm of agent processes on one machine, and its report."""
