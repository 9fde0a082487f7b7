"""``otswarm doctor``: what this board has, one line per item."""
