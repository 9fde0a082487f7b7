"""Board profiles: one TOML file per board (power model, radio cost, meter to use).

The files ship as package data, so :func:`importlib.resources.files` finds them
both in a checkout and in an installed wheel. They are loaded and validated by
:mod:`otswarm.energy.profile` (``load_profile("rpi5")``); docs/energy.md
describes every key.
"""
