"""Threads for the compiled helpers outside the engine: how many, and one split of a range.

The engine and settlement run their own thread pools (:mod:`vbsim.simulate`,
:mod:`vbsim.evaluate`); exact mode's point-by-point kernels (the member node sums, the claims'
premium grid, the compound-Poisson transform) use :func:`split_range`. Those kernels are
compiled with ``nogil=True`` and compute each point alone, so splitting the points over threads
gives the same values as one thread, and no ``parallel=True`` kernel is needed (loading one
from numba's cache and starting its threading layer cost ~0.4 s on the first call).
"""

from __future__ import annotations

from collections.abc import Callable


def num_threads() -> int:
    """numba's thread count (``NUMBA_NUM_THREADS``; the CPUs by default).

    >>> num_threads() >= 1
    True
    """
    import numba

    return max(1, int(numba.get_num_threads()))


def split_range(fill: Callable[[int, int], None], n: int, min_part: int) -> None:
    """Call ``fill(i0, i1)`` over ``[0, n)`` in contiguous parts of at least ``min_part`` items,
    one per thread (:func:`num_threads`), on a thread pool; in the calling thread when one part
    is all there is. ``fill`` must write only its own part.

    >>> out = [0] * 10
    >>> def fill(i0, i1):
    ...     out[i0:i1] = [i * i for i in range(i0, i1)]
    >>> split_range(fill, 10, 1); out[:4], out[-1]
    ([0, 1, 4, 9], 81)
    """
    parts = max(1, min(num_threads(), n // max(int(min_part), 1)))
    if parts == 1:
        fill(0, n)
        return
    from concurrent.futures import ThreadPoolExecutor

    edges = [n * k // parts for k in range(parts + 1)]
    with ThreadPoolExecutor(max_workers=parts) as pool:
        list(pool.map(fill, edges[:-1], edges[1:]))
