"""A pytest plugin (loaded by tests/conftest.py) that makes `--dist loadgroup` honour `xdist_group` marks
with pytest 9.2.

pytest-xdist 3.8 marks a grouped test by appending `@<group>` to its node id through the old
`item._nodeid` field, which pytest 9.2 no longer reads (its node ids are structured now): the groups are
then silently ignored and, for example, the browser tests spread over two workers and two servers
(pytest-dev/pytest-xdist#1386; the fix, #1388, is not released). Until it is, this sets the suffix on the
structured id, after xdist's own hook. It does nothing outside `--dist loadgroup`, on an older pytest, or
when the suffix is already there (a fixed xdist).
"""

from __future__ import annotations

import pytest

try:
    from _pytest.nodeid import NodeId
except ImportError:  # pytest < 9.2: xdist's own suffix works
    NodeId = None  # type: ignore[assignment,misc]


def group_of(item: pytest.Item) -> str | None:
    """The group name xdist means for `item` (several marks join, sorted), or None."""
    names = {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    }
    return "_".join(sorted(names)) if names else None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if NodeId is None or not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        group = group_of(item)
        if group and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{group}")
