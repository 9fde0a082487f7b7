"""Swarm outcomes over simulated days: does each OT capability earn its place?

A closed loop of N boards over D simulated days (``bench/bench_outcomes.py``,
``otswarm bench outcomes``), one module per job:

- :mod:`.scenario`: the fixed scenario (panels, batteries, loads, positions,
  weather, the shading shock), drawn from a seed; every parameter's source is in
  docs/results.md;
- :mod:`.boards`: glue around the simulated MCU's models
  (``otswarm.firmware_bridge.simulator``: ``SolarHarvester``, ``Battery``), with
  energy books that balance;
- :mod:`.strategies`: the strategies compared, and the runtime's decision code
  they call (``otswarm.coordination``, ``otswarm.agent.offers``);
- :mod:`.simulate`: the loop, sense -> decide (the shipped policy through LiteRT)
  -> coordinate -> act, booked in an ``otswarm.energy.EnergyLedger``;
- :mod:`.metrics`: the figures of one run; :mod:`.stats`: means, confidence
  intervals and paired comparisons over seeds;
- :mod:`.report`: the JSON document, the Markdown table and the plot.
"""
