"""Admin pages: knowledge base (upload, delete, re-ingest), people (import report, paging) and cohort matching
(run, pin and forbid, publish), on fake embeddings and an in-memory store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from companion.container import Services
from companion.identity.auth import Role, create_user, mentees_of
from companion.storage.db import Match, User
from tests.support.app import Api, csrf_of, make_api, make_settings, web_client

GUIDE = b"""# Pairing Rituals

## Weekly check-in
Mentor and mentee meet every week for thirty minutes to review progress on the goals.

## Closing a cycle
At the end of the cycle both write a short reflection and agree on next steps.
"""

PEOPLE_CSV = b"""id,name,role,timezone,languages,skills,expertise,goals,capacity,user
t1,Tom Mentor,mentor,Europe/London,english,python;testing,I teach python testing and pytest,,1,mentor1
t2,Tia Mentor,mentor,Europe/London,english,sql;databases,I help with databases and sql queries,,1,mentor2
e1,Eve Mentee,mentee,Europe/London,english,python;testing,,I want to learn python testing with pytest,,mentee1
e2,Ed Mentee,mentee,Europe/London,english,sql;databases,,I want to learn sql databases and queries,,mentee2
"""


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "sample"
    folder.mkdir()
    (folder / "alpha.md").write_text("# Alpha\n\n## Start\nAlpha guide text about starting a mentorship.\n")
    (folder / "beta.md").write_text("# Beta\n\n## Goals\nBeta guide text about setting goals together.\n")
    return folder


@pytest.fixture
def admin_api(tmp_path: Path, sample_dir: Path) -> Iterator[Api]:
    settings = make_settings(tmp_path, max_upload_bytes=4000, sample_knowledge_dir=sample_dir)
    services = Services(settings)
    services.db.create_tables()
    yield from make_api(services)
    services.close()


@pytest.fixture
def admin(admin_api: Api) -> TestClient:
    return web_client(admin_api, "admin")


def token(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def upload(client: TestClient, name: str, data: bytes) -> TestClient:
    csrf = token(client, "/admin/knowledge")
    return client.post("/admin/knowledge/upload", data={"csrf_token": csrf}, files={"file": (name, data)})


def alert(html: str) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', html, re.S)
    assert found, "page shows no error"
    return found.group(1)


# ---- every page renders for an admin, and only for an admin ---------------------------------------------


PAGE_MARKS = {
    "/admin/knowledge": [
        'id="upload-form"',
        'enctype="multipart/form-data"',
        'id="upload-progress"',
        "/static/admin_knowledge.js",
        'id="no-guides"',
        'id="ingest-sample"',
    ],
    "/admin/people": ['id="import-form"', 'id="demo-form"', 'id="people-filter"', 'id="no-people"'],
    "/admin/matching": ['id="run-form"', 'id="run-pins"', 'id="run-forbids"', 'id="no-runs"'],
}


def test_admin_pages_render_with_labelled_forms(admin: TestClient) -> None:
    for path, marks in PAGE_MARKS.items():
        page = admin.get(path)
        assert page.status_code == 200
        for mark in marks:
            assert mark in page.text, f"{path}: {mark}"
        assert f'<a href="{path}" aria-current="page">' in page.text
        ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page.text)
        assert ids
        for control in ids:
            assert f'<label for="{control}"' in page.text, f"{path}: #{control} has no label"


@pytest.mark.parametrize("role", ["mentee", "mentor"])
def test_other_roles_get_403_on_every_admin_page_and_action(admin_api: Api, role: str) -> None:
    client = web_client(admin_api, role)
    for path in ["/admin/knowledge", "/admin/people", "/admin/matching"]:
        page = client.get(path)
        assert page.status_code == 403 and "this page is for admins" in page.text
    csrf = csrf_of(client.get("/admin/knowledge").text)  # the 403 page's sign-out form carries it
    posts = [
        "/admin/knowledge/upload",
        "/admin/knowledge/reingest",
        "/admin/people/import",
        "/admin/matching/run",
    ]
    for path in posts:
        response = client.post(path, data={"csrf_token": csrf}, files={"file": ("a.md", GUIDE)})
        assert response.status_code == 403, path
    assert admin_api.services.knowledge.list_documents() == []


def test_posts_without_csrf_token_are_refused_and_change_nothing(admin_api: Api, admin: TestClient) -> None:
    refused = admin.post("/admin/knowledge/upload", files={"file": ("guide.md", GUIDE)})
    assert refused.status_code == 403 and "form has expired" in refused.text
    wrong = admin.post(
        "/admin/people/import", data={"csrf_token": "forged"}, files={"file": ("p.csv", PEOPLE_CSV)}
    )
    assert wrong.status_code == 403
    assert admin.post("/admin/matching/run", data={"pins": ""}).status_code == 403
    assert admin.post("/admin/knowledge/sample").status_code == 403
    assert admin_api.services.knowledge.list_documents() == []
    assert admin_api.services.people.count() == {}
    assert admin_api.services.matching.list_runs() == []


# ---- knowledge ------------------------------------------------------------------------------------------


def test_upload_lists_the_guide_then_delete_removes_it_everywhere(admin_api: Api, admin: TestClient) -> None:
    services = admin_api.services
    added = upload(admin, "pairing.md", GUIDE)
    assert added.status_code == 201
    assert "Added pairing.md" in added.text and 'id="ingest-result"' in added.text
    [doc] = services.knowledge.list_documents()
    assert doc.source == "pairing.md" and doc.title == "Pairing Rituals" and doc.chunks >= 2
    assert (services.settings.uploads_dir / "pairing.md").read_bytes() == GUIDE
    listing = admin.get("/admin/knowledge").text
    row = re.search(rf'<tr id="guide-{doc.id}".*?</tr>', listing, re.S)
    assert row and "Pairing Rituals" in row.group(0) and f"<td>{doc.chunks}</td>" in row.group(0)
    assert f'id="reingest-{doc.id}"' in row.group(0) and 'data-confirm="Delete pairing.md' in row.group(0)

    csrf = csrf_of(listing)
    deleted = admin.post(f"/admin/knowledge/{doc.id}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 200
    assert f"Deleted pairing.md and its {doc.chunks} chunks" in deleted.text
    assert 'id="no-guides"' in deleted.text and f'id="guide-{doc.id}"' not in deleted.text
    assert services.knowledge.list_documents() == []
    assert services.store.ids_for_source("pairing.md") == set()
    assert not (services.settings.uploads_dir / "pairing.md").exists()
    again = admin.post(f"/admin/knowledge/{doc.id}/delete", data={"csrf_token": csrf})
    assert again.status_code == 404 and f"no document with id {doc.id}" in alert(again.text)


BAD_UPLOADS = [
    ("guide.pdf", b"# not a pdf at all\n", 422, "does not start with a PDF header"),
    ("notes.txt", b"\x00\x01binary\x00", 422, "binary content in a text file"),
    ("tool.exe", b"MZ\x90\x00", 415, "unsupported file type &#39;.exe&#39;"),
    ("big.md", b"# Big\n\n" + b"word " * 1000, 413, "larger than the 4000 byte limit"),
    ("empty.md", b"", 422, "empty"),
    ("../up.md", GUIDE, 422, "no folders"),
]


def test_bad_uploads_show_a_clear_error_and_store_nothing(admin_api: Api, admin: TestClient) -> None:
    uploads = admin_api.services.settings.uploads_dir
    for name, data, status, message in BAD_UPLOADS:
        response = upload(admin, name, data)
        assert response.status_code == status, name
        shown = alert(response.text)
        assert shown.startswith("Upload refused: ") and message in shown, (name, shown)
        assert 'id="upload-form"' in response.text  # the form is there to try again
        assert admin_api.services.knowledge.list_documents() == []
        assert admin_api.services.store.count() == 0
        assert not uploads.exists() or not any(uploads.iterdir())


def test_upload_without_a_file_is_422_in_the_page(admin: TestClient) -> None:
    csrf = token(admin, "/admin/knowledge")
    response = admin.post("/admin/knowledge/upload", data={"csrf_token": csrf})
    assert response.status_code == 422 and "choose a guide file to upload" in alert(response.text)


def test_reingest_reads_the_kept_file_and_reports_guides_it_cannot_read(
    admin_api: Api, admin: TestClient, tmp_path: Path
) -> None:
    services = admin_api.services
    upload(admin, "pairing.md", GUIDE)
    [doc] = services.knowledge.list_documents()
    outside = tmp_path / "cli"
    outside.mkdir()
    (outside / "cli-only.md").write_text("# CLI\n\n## Only\nIngested from the command line.\n")
    services.knowledge.ingest_paths([outside])
    csrf = token(admin, "/admin/knowledge")

    same = admin.post(f"/admin/knowledge/{doc.id}/reingest", data={"csrf_token": csrf})
    assert same.status_code == 200 and "0 added, 0 updated, 1 unchanged, 0 failed" in same.text

    kept = services.settings.uploads_dir / "pairing.md"
    kept.write_bytes(GUIDE + b"\n## Extra section\nA new section about celebrating progress.\n")
    changed = admin.post(f"/admin/knowledge/{doc.id}/reingest", data={"csrf_token": csrf})
    assert "0 added, 1 updated" in changed.text
    assert services.knowledge.get_document(doc.id).chunks == doc.chunks + 1

    everything = admin.post("/admin/knowledge/reingest", data={"csrf_token": csrf})
    assert everything.status_code == 200
    failures = re.search(r'<table id="ingest-failures">.*?</table>', everything.text, re.S)
    assert failures and "cli-only.md" in failures.group(0) and "does not keep this guide" in failures.group(0)
    assert "pairing.md" not in failures.group(0)
    listing = admin.get("/admin/knowledge").text
    assert "file not kept on the server" in listing


def test_sample_handbook_ingest_adds_back_deleted_sample_guides(admin_api: Api, admin: TestClient) -> None:
    csrf = token(admin, "/admin/knowledge")
    first = admin.post("/admin/knowledge/sample", data={"csrf_token": csrf})
    assert first.status_code == 200 and "2 added" in first.text
    docs = {d.source: d for d in admin_api.services.knowledge.list_documents()}
    assert set(docs) == {"alpha.md", "beta.md"}
    admin.post(f"/admin/knowledge/{docs['beta.md'].id}/delete", data={"csrf_token": csrf})
    again = admin.post("/admin/knowledge/sample", data={"csrf_token": csrf})
    assert "1 added, 0 updated, 1 unchanged" in again.text
    assert len(admin_api.services.knowledge.list_documents()) == 2


# ---- people ---------------------------------------------------------------------------------------------


def test_import_shows_the_row_report_with_failed_rows_and_reasons(admin_api: Api, admin: TestClient) -> None:
    bad = PEOPLE_CSV.replace(b",mentor1\n", b",\n").replace(b",mentor2\n", b",\n")
    bad = bad.replace(b",mentee1\n", b",\n").replace(b",mentee2\n", b",\n")
    bad += b"e3,Mars Mentee,mentee,Mars/Olympus,english,sql,,I want sql,,\n"
    bad += b"e1,Eve Again,mentee,Europe/London,english,python,,Python again,,\n"
    csrf = token(admin, "/admin/people")
    response = admin.post(
        "/admin/people/import", data={"csrf_token": csrf}, files={"file": ("team.csv", bad)}
    )
    assert response.status_code == 200
    assert "Imported team.csv: created 4, updated 0, unchanged 0, failed 2" in alert(response.text)
    rows = re.search(r'<table id="import-rows">.*?</table>', response.text, re.S)
    assert rows
    failed = re.findall(
        r'<tr class="row-failed"><td>(\d+)</td><td>(.*?)</td>.*?<td>(.*?)</td></tr>', rows.group(0)
    )
    assert [(n, key) for n, key, _ in failed] == [("6", "(no key)"), ("7", "e1")]
    assert "unknown time zone &#39;Mars/Olympus&#39;" in failed[0][2]
    assert "duplicate key &#39;e1&#39; (see row 4)" in failed[1][2]
    assert admin_api.services.people.count() == {"mentor": 2, "mentee": 2}
    assert "<code>e2</code>" in response.text  # the new people are listed below


def test_import_of_a_wrong_file_type_is_refused(admin: TestClient) -> None:
    csrf = token(admin, "/admin/people")
    response = admin.post(
        "/admin/people/import", data={"csrf_token": csrf}, files={"file": ("p.txt", b"a,b\n")}
    )
    assert response.status_code == 422 and "use a .csv or .json file" in alert(response.text)


def test_people_list_is_paged_and_filtered_by_role(admin_api: Api, admin: TestClient) -> None:
    csrf = token(admin, "/admin/people")
    demo = admin.post("/admin/people/demo", data={"csrf_token": csrf, "seed": "3", "size": "70"})
    assert demo.status_code == 200 and "created 70" in demo.text
    counts = admin_api.services.people.count()
    assert 'id="people-range">1-50 of 70.' in demo.text and 'id="next-page"' in demo.text
    second = admin.get("/admin/people?page=2")
    assert 'id="people-range">51-70 of 70.' in second.text and 'id="next-page"' not in second.text
    mentors = admin.get("/admin/people?role=mentor")
    roles = re.findall(r"</code></td><td>(mentor|mentee)</td>", mentors.text)
    assert roles and set(roles) == {"mentor"} and len(roles) == min(50, counts["mentor"])
    bad = admin.post("/admin/people/demo", data={"csrf_token": csrf, "seed": "x", "size": "70"})
    assert bad.status_code == 422 and "seed: enter a whole number" in alert(bad.text)
    assert 'value="x"' in bad.text
    assert admin.get("/admin/people?role=boss").status_code == 422


# ---- matching -------------------------------------------------------------------------------------------


def _pairs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-mentee="([^"]+)" data-mentor="([^"]+)">', html))


def test_cohort_run_then_pin_and_forbid_on_rerun_then_publish_links_mentorships(
    admin_api: Api, admin: TestClient
) -> None:
    services = admin_api.services
    with services.db.session() as session:
        create_user(session, name="mentor2", role=Role.mentor)
        create_user(session, name="mentee2", role=Role.mentee)
    csrf = token(admin, "/admin/people")
    imported = admin.post(
        "/admin/people/import", data={"csrf_token": csrf}, files={"file": ("p.csv", PEOPLE_CSV)}
    )
    assert "created 4" in imported.text

    first = admin.post("/admin/matching/run", data={"csrf_token": csrf})
    assert first.status_code == 200, first.text
    assert _pairs(first.text) == {"e1": "t1", "e2": "t2"}
    assert "Review: Run 1" in first.text and 'id="publish-button"' in first.text

    # tick: forbid e1 with t1, pin e2 to t1
    rerun = admin.post(
        "/admin/matching/run",
        data={"csrf_token": csrf, "pins": "", "forbids": "", "pin": ["e2 = t1"], "forbid": ["e1 = t1"]},
    )
    assert rerun.status_code == 200, rerun.text
    assert _pairs(rerun.text) == {"e1": "t2", "e2": "t1"}
    row = re.search(r'<tr data-mentee="e2".*?</tr>', rerun.text, re.S)
    assert row and '<span class="flag">pinned</span>' in row.group(0)
    # the ticked pairs are kept in the text areas for the next run
    assert ">e2 = t1</textarea>" in rerun.text and ">e1 = t1</textarea>" in rerun.text
    with services.db.session() as session:
        statuses = {(m.run_id, m.status) for m in session.scalars(select(Match))}
    assert statuses == {(1, "withdrawn"), (2, "proposed")}

    published = admin.post("/admin/matching/runs/2/publish", data={"csrf_token": csrf})
    assert published.status_code == 200
    assert "Published run 2: 2 match(es) accepted; 2 linked as mentorships" in published.text
    assert 'id="publish-button"' not in published.text
    with services.db.session() as session:
        users = {u.name: u.id for u in session.scalars(select(User))}
        assert mentees_of(session, users["mentor1"]) == {users["mentee2"]}
        assert mentees_of(session, users["mentor2"]) == {users["mentee1"]}
    past = admin.get("/admin/matching").text
    assert 'id="run-link-1"' in past and 'id="run-link-2"' in past
    stored = admin.get("/admin/matching?run=2").text
    assert "2 accepted" in stored and "(mentorship)" in stored
    events = [(e.action, e.target, e.via) for e in reversed(services.audit.list(actor="admin1"))]
    assert events == [
        ("import people", "p.csv", "web"),
        ("run cohort match", "run 1", "web"),
        ("run cohort match", "run 2", "web"),
        ("publish matching run", "run 2", "web"),
    ]


def test_matching_errors_are_shown_in_the_page_with_the_typed_input(
    admin_api: Api, admin: TestClient
) -> None:
    csrf = token(admin, "/admin/people")
    admin.post("/admin/people/import", data={"csrf_token": csrf}, files={"file": ("p.csv", PEOPLE_CSV)})
    malformed = admin.post("/admin/matching/run", data={"csrf_token": csrf, "pins": "e1 t1"})
    assert malformed.status_code == 422 and "pins, line 1" in alert(malformed.text)
    assert ">e1 t1</textarea>" in malformed.text
    unknown = admin.post("/admin/matching/run", data={"csrf_token": csrf, "pins": "e1 = nobody"})
    assert unknown.status_code == 422 and "no mentor &#39;nobody&#39;" in alert(unknown.text)
    clash = admin.post(
        "/admin/matching/run", data={"csrf_token": csrf, "pins": "e1 = t1", "forbids": "e1=t1"}
    )
    assert clash.status_code == 422 and "both pinned and forbidden" in alert(clash.text)
    assert admin.get("/admin/matching?run=9").status_code == 404
    assert admin.post("/admin/matching/runs/9/publish", data={"csrf_token": csrf}).status_code == 404
    dry = admin.post("/admin/matching/run", data={"csrf_token": csrf, "dry_run": "on"})
    assert "Dry run (not stored)" in dry.text and 'id="publish-button"' not in dry.text
    assert admin_api.services.matching.list_runs() == []
    assert [e.action for e in admin_api.services.audit.list()] == ["import people"]  # nothing else changed
