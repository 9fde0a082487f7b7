"""Keep Numba's on-disk cache consistent with the sources of this package.

Numba's ``cache=True`` keys a cached function on its *own* file's timestamp, not
on the files of the compiled functions it calls: after an update of
``_scaling.py`` the cached ``batch._solve_all`` would still run the old inlined
kernels. A stamp (hash of every ``runtime/ot/*.py``) in ``__pycache__`` detects
any change of the package and drops the stale ``.nbi``/``.nbc`` files before
the first kernel loads them. Both places Numba caches in are covered: the
package's ``__pycache__`` and, when ``NUMBA_CACHE_DIR`` is set (as on a
deployed board), this package's directory below it.
"""

from __future__ import annotations

import hashlib
import logging
import os
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


def cache_dirs() -> list[Path]:
    """Where Numba keeps the cache files of this package."""
    dirs = [PACKAGE / "__pycache__"]
    root = os.environ.get("NUMBA_CACHE_DIR")
    if root:  # numba.core.caching.UserProvidedCacheLocator.get_suitable_cache_subpath
        hashed = hashlib.sha1(str(PACKAGE).encode()).hexdigest()
        dirs.append(Path(root) / f"{PACKAGE.name}_{hashed}")
    return dirs


def drop_stale_cache() -> None:
    """Delete the Numba cache files of this package when its sources changed."""
    digest = sources_digest()
    for cache in cache_dirs():
        stamp = cache / STAMP
        try:
            if stamp.read_text() == digest:
                continue
        except OSError:
            pass
        try:
            cache.mkdir(parents=True, exist_ok=True)
            for path in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
                path.unlink(missing_ok=True)
            stamp.write_text(digest)
        except OSError as exc:  # read-only install: Numba then compiles in memory
            log.debug("cannot refresh the Numba cache in %s: %s", cache, exc)
