"""Every page in each role's navigation renders with a plain, short <title> and one <h1>: a template
block left open swallows the page's content into its title (it happened once in a merge)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from companion.identity.auth import Role
from companion.web.common import NAV
from tests.support.app import Api, make_api, web_client
from tests.support.assistant import build


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from make_api(build(tmp_path, []))


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_each_nav_page_has_a_plain_title_and_one_heading(api: Api, role: str) -> None:
    client = web_client(api, role)
    pages = NAV[Role(role)]
    assert pages, f"the {role} role has pages"
    for path, _label in pages:
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        titles = re.findall(r"<title>(.*?)</title>", page.text, flags=re.S)
        assert len(titles) == 1, path
        title = titles[0]
        assert "<" not in title and "\n" not in title and len(title) <= 80, (path, title[:200])
        assert title.endswith(" - Companion"), (path, title)
        assert len(re.findall(r"<h1[ >]", page.text)) == 1, path
