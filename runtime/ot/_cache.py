"""Keep Numba's on-disk cache consistent with the sources of this package.

Numba's ``cache=True`` keys a cached function on its *own* file's timestamp, not
on the files of the compiled functions it calls: after an update of
``_scaling.py`` the cached ``batch._solve_all`` would still run the old inlined
kernels. A stamp (hash of every ``runtime/ot/*.py``) in ``__pycache__`` detects
any change of the package and drops the stale ``.nbi``/``.nbc`` files before
the first kernel loads them.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
STAMP = "otswarm-ot-sources.sha256"


def sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def drop_stale_cache() -> None:
    """Delete the Numba cache files of this package when its sources changed."""
    cache = PACKAGE / "__pycache__"
    stamp = cache / STAMP
    digest = sources_digest()
    try:
        if stamp.read_text() == digest:
            return
    except OSError:
        pass
    try:
        cache.mkdir(exist_ok=True)
        for path in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
            path.unlink(missing_ok=True)
        stamp.write_text(digest)
    except OSError as exc:  # read-only install: Numba then compiles in memory
        log.debug("cannot refresh the Numba cache in %s: %s", cache, exc)
