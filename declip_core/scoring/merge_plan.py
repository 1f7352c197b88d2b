"""The merge plan of a resumable table: which row ends up where, from the keys and error flags alone.

Generations: the existing output is generation 0, each run's parts one generation (in run order). A row of a
later generation for key k takes the place of the earliest row of k that still holds an error (one for one;
a retry that fails again keeps the place for the next run); other rows are new places. So every rerun
retries the error rows and the table keeps input order.
"""
from __future__ import annotations

import collections

import numpy as np


class MergePlan:
    """What the final table holds, from the sources' keys and error flags alone (no row data).

    Generations: the existing <out> is generation 0, each run's parts one generation (in run order). A row
    of a later generation for key k takes the place of the earliest row of k that still holds an error
    (one for one; a retry that fails again keeps the place for the next run); other rows are new places.
    """

    def __init__(self, keys: list[np.ndarray], errs: list[np.ndarray], gens: list[int]) -> None:
        self.moved: list[set[int]] = [set() for _ in keys]  # rows emitted at another row's place
        self.occupant: list[dict[int, tuple[int, int]]] = [{} for _ in keys]  # place -> (source, row)
        order = sorted(range(len(keys)), key=lambda s: (gens[s], s))
        # only an error row whose key comes again in a later generation can be replaced: Python objects are
        # made for those alone (a run with many error rows and no retry yet costs nothing here)
        later: dict[int, np.ndarray] = {}
        acc = np.zeros(0, np.uint64)
        for g in sorted(set(gens), reverse=True):
            later[g] = acc
            acc = np.union1d(acc, np.concatenate([keys[s] for s in order if gens[s] == g]))
        err_slots: dict[int, collections.deque[tuple[int, int]]] = {}
        g_prev = None
        pending: list[tuple[int, tuple[int, int]]] = []
        for s in order:
            if gens[s] != g_prev:
                self._close_generation(err_slots, pending)
                pending, g_prev = [], gens[s]
            h, e = keys[s], errs[s]
            slots = np.fromiter(err_slots, dtype=np.uint64, count=len(err_slots))
            fills = np.isin(h, slots) if len(slots) else np.zeros(len(h), dtype=bool)
            for r in np.flatnonzero(fills | (e & np.isin(h, later[gens[s]]))):
                k = int(h[r])
                dq = err_slots.get(k)
                if dq:
                    place = dq.popleft()
                    self.occupant[place[0]][place[1]] = (s, int(r))
                    self.moved[s].add(int(r))
                    if e[r]:
                        pending.append((k, place))
                elif e[r]:
                    pending.append((k, (s, int(r))))
        self._close_generation(err_slots, pending)
        stay = [~np.isin(np.arange(len(h)), list(self.moved[s])) for s, h in enumerate(keys)]
        filled_good = [keys[s2][r2] for s in range(len(keys)) for (s2, r2) in self.occupant[s].values()
                       if not errs[s2][r2]]
        # error rows in the final table: those at their own place, less the places a good row took
        self.errors_left = sum(int((e & st).sum()) for e, st in zip(errs, stay)) - len(filled_good)
        # done: good rows at their own place, plus good occupants of former error places
        self.done = np.concatenate([h[~e & st] for h, e, st in zip(keys, errs, stay)] +
                                   [np.asarray(filled_good, dtype=np.uint64)])

    @staticmethod
    def _close_generation(err_slots: dict[int, collections.deque[tuple[int, int]]],
                          pending: list[tuple[int, tuple[int, int]]]) -> None:
        touched = set()
        for k, place in pending:
            err_slots.setdefault(k, collections.deque()).append(place)
            touched.add(k)
        for k in touched:
            err_slots[k] = collections.deque(sorted(err_slots[k]))
        for k in [k for k, d in err_slots.items() if not d]:
            del err_slots[k]


