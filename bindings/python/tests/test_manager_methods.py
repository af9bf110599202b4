"""Every method of every manager kind is reachable from this binding's
proxies: the method table (docs/manager-methods.json, generated from the
server's table of kinds and kept equal to it by a Rust test) against the
proxy classes, by name.

A protocol method a proxy exposes under another (Python) name is listed in
ALIASES, one it deliberately does not expose in NOT_EXPOSED, each with the
reason; a kind without a proxy class in NO_PROXY. A new method in the table
fails here until a proxy has it or one of these lists says why not."""

import json
import os

from mpipc import managers

TABLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "manager-methods.json")

# Kinds this binding has no proxy for.
NO_PROXY = {
    # multiprocessing has no set proxy; a Python program uses a dict.
    "set",
}

# (kind, protocol method) -> the proxy attribute that calls it.
ALIASES = {
    ("dict", "set"): "__setitem__",
    ("dict", "del"): "__delitem__",
    ("dict", "len"): "__len__",
    ("dict", "contains"): "__contains__",
    ("list", "len"): "__len__",
    ("list", "getitem"): "__getitem__",
    ("list", "getslice"): "__getitem__",  # d[a:b]
    ("list", "setitem"): "__setitem__",
    ("list", "setslice"): "__setitem__",  # d[a:b] = xs
    ("list", "delitem"): "__delitem__",
    ("list", "delslice"): "__delitem__",  # del d[a:b]
    ("list", "contains"): "__contains__",
    ("namespace", "getattr"): "__getattribute__",  # ns.x
    ("namespace", "setattr"): "__setattr__",  # ns.x = v
    ("namespace", "delattr"): "__delattr__",  # del ns.x
    ("namespace", "dict"): "_state",  # repr(ns) shows every attribute
    ("array", "len"): "__len__",
    ("array", "getitem"): "__getitem__",
    ("array", "getslice"): "__getitem__",
    ("array", "setitem"): "__setitem__",
    ("array", "setslice"): "__setitem__",
}

# (kind, protocol method) -> why no proxy method calls it.
NOT_EXPOSED = {
    # The core's client asks for the replica itself (every binding reads
    # a local dict through it); it is not a method a user calls.
    ("dict", "replica"): "used by the client library",
    # setdefault is the same call under its Python name.
    ("dict", "get_or_set"): "setdefault",
}


def _table():
    with open(TABLE) as f:
        return json.load(f)


def test_every_method_has_a_proxy():
    missing = []
    for kind, methods in _table().items():
        if kind in NO_PROXY:
            continue
        cls = managers._KIND_CLASS[kind]
        for m in methods:
            if (kind, m) in NOT_EXPOSED:
                continue
            attr = ALIASES.get((kind, m), m)
            if not hasattr(cls, attr):
                missing.append("%s.%s (as %s.%s)" % (kind, m, cls.__name__, attr))
    assert not missing, "methods of the table no proxy has: %s" % ", ".join(missing)


def test_the_lists_name_only_what_the_table_has():
    # A stale entry (a method renamed or removed on the server) is an error
    # too: the lists say why a binding differs, not what it once was.
    table = _table()
    assert NO_PROXY <= set(table), NO_PROXY - set(table)
    assert set(managers._KIND_CLASS) | NO_PROXY == set(table)
    for kind, m in list(ALIASES) + list(NOT_EXPOSED):
        assert m in table[kind], (kind, m)
    for (kind, m), attr in ALIASES.items():
        # An alias is only for a method the proxy does not have by name.
        assert not hasattr(managers._KIND_CLASS[kind], m) or attr == m, (kind, m)
