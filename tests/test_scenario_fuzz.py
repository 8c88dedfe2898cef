"""Every shipped scenario file with one field broken: the error is a VbsimInputError that names
the file and the field, never a TypeError or KeyError from deep inside (issue 3: "scenario
files with a wrong field, type or range get an error naming the file, the field path and the
allowed values").

Each leaf (and each table) of each file in ``scenarios/`` is replaced in turn by values of the
wrong type or range (a string, negative, huge, tiny, NaN, inf, a boolean, lists and tables) or
removed; the mutated document goes through the same loader as ``vbsim run`` (the multi-year
one for files with a [multiyear] section). A mutation may also be valid (3 is a fine number
of scenarios); then it must load.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from vbsim._validate import VbsimInputError
from vbsim.multiyear import scenario as multiyear_scenario
from vbsim.scenario import from_dict, read_toml

FILES = sorted((Path(__file__).parent.parent / "scenarios").glob("*.toml"))
_DELETE = object()
BAD = ["x", -1, -1e300, 1e300, 0, 1e-300, True, [], [1, 2], {}, {"a": 1}, 2**70,
       float("nan"), float("inf"), 0.5, 3, "ENHANCED", _DELETE]


def _paths(node, path=()):
    """Every key path into the document (tables, lists and leaves)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*path, i))
    if path:
        yield path


def _mutated(doc, path, value):
    out = copy.deepcopy(doc)
    node = out
    for k in path[:-1]:
        node = node[k]
    if value is not _DELETE:
        node[path[-1]] = value
    elif isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = "x"  # a list entry cannot be removed without renumbering
    return out


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_one_broken_field_gives_an_error_naming_file_and_field(path):
    doc = read_toml(path)
    where = f"scenarios/{path.name}"
    load = multiyear_scenario.from_dict if "multiyear" in doc else from_dict
    n_errors = 0
    for keys in _paths(doc):
        field = [k for k in keys if isinstance(k, str)][-1]
        for value in BAD:
            try:
                load(_mutated(doc, keys, value), where=where, base_dir=path.parent)
            except VbsimInputError as exc:
                n_errors += 1
                msg = str(exc)
                assert where in msg and field in msg, (keys, value, msg)
    assert n_errors > 100  # the mutations do break things
