"""People: mentor and mentee profiles, their CRUD and access rules, and CSV/JSON import.

Access: admins manage every profile. A person whose profile is linked to their user account may read it
and change its profile fields (text, skills, languages, time zone, capacity up to the default,
preferences), but not the organization's fields (key, email, role, department, site, manager, linked
account); as in the handbook, a capacity above the default needs the program admin. A mentor may read
the profiles of their active mentees, without the mentee's private "avoid" list.

Import upserts by a stable key: the `id` (or `key`) column when present, else the email. Every row is
validated on its own; bad rows are reported with their row number and reason and skipped, good rows
are kept. Importing the same file again changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from companion.errors import Conflict, Forbidden, InvalidInput, LimitExceeded, NotFound, validation_message
from companion.identity.auth import Principal, Role, mentees_of
from companion.matching.demo_org import CSV_COLUMNS, demo_rows
from companion.matching.profiles import ProfileVectors
from companion.matching.schemas import (
    ImportReport,
    OwnProfile,
    PersonBrief,
    PersonIn,
    PersonOut,
    PersonUpdate,
    Preferences,
    RowFailure,
)
from companion.schemas import is_db_id
from companion.settings import MatchingSettings
from companion.storage.db import Database, Match, Person, User, utcnow

# what an import accepts: the columns the demo organization is written with, plus import-only keys
COLUMNS = set(CSV_COLUMNS) | {"id", "key", "user", "preferences"}
_FLAT_PREFERENCES = {
    "prefer_mentors": "mentors",
    "avoid": "avoid",
    "prefer_department": "department",
    "prefer_site": "site",
}
_PROFILE_FIELDS = (
    "name",
    "email",
    "role",
    "department",
    "site",
    "seniority",
    "timezone",
    "languages",
    "skills",
    "expertise",
    "goals",
    "bio",
    "capacity",
    "preferences",
)


def parse_rows(
    data: bytes, filename: str, *, max_rows: int | None = None
) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """Rows of a CSV or JSON file with their row numbers, and the columns import does not use.
    More than `max_rows` rows -> LimitExceeded, before any row is looked at."""
    suffix = Path(filename).suffix.lower()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{filename}: not UTF-8 text") from None
    rows: list[tuple[int, dict[str, Any]]] = []
    if suffix == ".json":
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{filename}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        except RecursionError:
            raise InvalidInput(f"{filename}: the JSON is nested too deeply to be a list of people") from None
        if isinstance(loaded, dict) and isinstance(loaded.get("people"), list):
            loaded = loaded["people"]
        if not isinstance(loaded, list):
            raise InvalidInput(f"{filename}: expected a JSON list of people (or {{'people': [...]}})")
        _check_rows(len(loaded), max_rows)
        rows = [(n, item) for n, item in enumerate(loaded, start=1)]
    elif suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        try:
            if not reader.fieldnames:
                raise InvalidInput(f"{filename}: the CSV file has no header row")
            for n, item in enumerate(reader, start=2):
                _check_rows(n - 1, max_rows)
                rows.append((n, dict(item)))
        except csv.Error as exc:
            raise InvalidInput(
                f"{filename}: not a readable CSV file (line {reader.line_num}: {exc})"
            ) from None
    else:
        raise InvalidInput(f"{filename}: use a .csv or .json file")
    seen: set[str] = set()
    for _, item in rows:
        if isinstance(item, dict):
            seen.update(str(k).strip().lower() for k in item if k is not None)
    return rows, sorted(seen - COLUMNS)


def _row_key(raw: object) -> str | None:
    """The key a row names (its id/key column, else its email), before the rest is validated."""
    if not isinstance(raw, dict):
        return None
    for column in ("id", "key", "email"):
        value = raw.get(column)
        if isinstance(value, str | int) and str(value).strip():
            return str(value).strip().lower()
    return None


def _check_rows(count: int, max_rows: int | None) -> None:
    if max_rows is not None and count > max_rows:
        raise LimitExceeded(
            "the file holds more people than one import may; split it into smaller files",
            limit=max_rows,
            setting="max_import_rows",
        )


def row_to_input(raw: object) -> PersonIn:
    if not isinstance(raw, dict):
        raise InvalidInput("a row must be an object with column names")
    values: dict[str, Any] = {}
    prefs: dict[str, Any] = {}
    for column, value in raw.items():
        if column is None:
            raise InvalidInput("the row has more cells than the header")
        name = str(column).strip().lower()
        if isinstance(value, str):
            value = value.strip() or None
        if value is None or name not in COLUMNS:
            continue
        if name in ("id", "key"):
            values["key"] = str(value)
        elif name in _FLAT_PREFERENCES:
            prefs[_FLAT_PREFERENCES[name]] = value
        elif name == "preferences" and isinstance(value, str):
            try:
                values["preferences"] = json.loads(value)
            except json.JSONDecodeError:
                raise InvalidInput("preferences: not a JSON object") from None
        else:
            values[name] = value
    if prefs:
        base = values.get("preferences")
        values["preferences"] = {**(base if isinstance(base, dict) else {}), **prefs}
    try:
        return PersonIn.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc)) from None


def to_out(person: Person, user_name: str | None, *, private: bool = True) -> PersonOut:
    prefs = Preferences.model_validate(person.preferences or {})
    if not private:
        prefs = prefs.model_copy(update={"avoid": []})
    return PersonOut(
        id=person.id,
        key=person.key,
        name=person.name,
        email=person.email,
        role=person.role,
        user_id=person.user_id,
        user=user_name,
        department=person.department,
        site=person.site,
        manager=person.manager_key,
        seniority=person.seniority,
        timezone=person.timezone,
        languages=list(person.languages),
        skills=list(person.skills),
        expertise=person.expertise,
        goals=person.goals,
        bio=person.bio,
        capacity=person.capacity,
        preferences=prefs,
        active=person.active is not False,
        created_at=person.created_at,
        updated_at=person.updated_at,
    )


def brief(person: Person) -> PersonBrief:
    return PersonBrief(
        id=person.id,
        key=person.key,
        name=person.name,
        role=person.role,
        department=person.department,
        site=person.site,
        timezone=person.timezone,
    )


def find_person(session: Session, ref: int | str) -> Person:
    """A person by id (int) or by key/email (str; all digits also tries the id)."""
    person: Person | None = None
    if isinstance(ref, int):
        person = session.get(Person, ref) if is_db_id(ref) else None
    else:
        person = session.scalar(select(Person).where(Person.key == ref.strip().lower()))
        if person is None and ref.strip().isdigit() and is_db_id(int(ref)):
            person = session.get(Person, int(ref))
    if person is None:
        raise NotFound(f"no person {ref!r}")
    return person


def own_person(session: Session, principal: Principal) -> Person | None:
    return session.scalar(select(Person).where(Person.user_id == principal.id))


def _snapshot(person: Person) -> dict[str, Any]:
    values = {name: getattr(person, name) for name in _PROFILE_FIELDS}
    values.update(key=person.key, manager=person.manager_key, user_id=person.user_id)
    return json.loads(json.dumps(values, default=str, sort_keys=True))


class PeopleService:
    def __init__(
        self,
        *,
        db: Database,
        vectors: ProfileVectors,
        settings: MatchingSettings,
        max_import_rows: int | None = None,
    ) -> None:
        """`max_import_rows`: most rows one imported file may hold (None: no limit)."""
        self.db = db
        self.vectors = vectors
        self.settings = settings
        self.max_import_rows = max_import_rows

    # ---- reading ---------------------------------------------------------------------------------

    def list_people(
        self, *, role: str | None = None, department: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[PersonOut]:
        with self.db.session() as session:
            query = select(Person, User.name).outerjoin(User, User.id == Person.user_id).order_by(Person.id)
            if role:
                query = query.where(Person.role == role)
            if department:
                query = query.where(Person.department == department)
            rows = session.execute(query.limit(limit).offset(offset)).all()
            return [to_out(person, user) for person, user in rows]

    def count(self) -> dict[str, int]:
        with self.db.session() as session:
            rows = session.execute(select(Person.role, func.count(Person.id)).group_by(Person.role)).all()
            return {role: int(n) for role, n in rows}

    def get(self, person_id: int, *, principal: Principal) -> PersonOut:
        with self.db.session() as session:
            person = find_person(session, person_id)
            private = self._check_read(session, person, principal)
            return to_out(person, self._user_name(session, person), private=private)

    def me(self, principal: Principal) -> PersonOut:
        with self.db.session() as session:
            person = own_person(session, principal)
            if person is None:
                raise NotFound(f"no profile is linked to user {principal.name!r}; an admin links it")
            return to_out(person, principal.name)

    def skills_in_use(self, role: str | None = None, *, limit: int = 200) -> list[str]:
        """Skills already on profiles, most used first: suggestions for the profile page."""
        counts: dict[str, int] = {}
        with self.db.session() as session:
            query = select(Person.skills).where(Person.active)
            if role:
                query = query.where(Person.role == role)
            for skills in session.scalars(query):
                for skill in skills or []:
                    counts[skill] = counts.get(skill, 0) + 1
        return sorted(counts, key=lambda skill: (-counts[skill], skill))[:limit]

    def save_own(self, principal: Principal, profile: OwnProfile) -> PersonOut:
        """Create or update the caller's own matching profile (mentors and mentees). A new profile is keyed
        by the account name and linked to it; the organization's fields stay empty until an admin or an
        import fills them."""
        if principal.role == Role.admin:
            raise Forbidden("admins have no matching profile; sign in as the mentor or mentee")
        with self.db.session() as session:
            person = own_person(session, principal)
        if person is not None:
            patch = PersonUpdate.model_validate(profile.model_dump(exclude_unset=True))
            return self.update(person.id, patch, principal=principal)
        if (profile.capacity or 0) > self.settings.default_capacity:
            raise Forbidden(
                f"a capacity above {self.settings.default_capacity} needs the program admin's approval; "
                "ask an admin"
            )
        values = profile.model_dump(exclude_unset=True, exclude_none=True)
        values.setdefault("name", principal.name)
        values.update(key=principal.name.lower(), role=principal.role.value, user=principal.name)
        try:
            data = PersonIn.model_validate(values)
        except ValidationError as exc:
            raise InvalidInput(validation_message(exc)) from None
        return self.create(data)

    def _check_read(self, session: Session, person: Person, principal: Principal) -> bool:
        """Raise unless the caller may read the profile; True if they may also see its private parts."""
        if principal.role == Role.admin or (person.user_id is not None and person.user_id == principal.id):
            return True
        if (
            principal.role == Role.mentor
            and person.role == "mentee"
            and person.user_id is not None
            and person.user_id in mentees_of(session, principal.id)
        ):
            return False
        raise Forbidden("you can only read your own profile (mentors: also their mentees' profiles)")

    @staticmethod
    def _user_name(session: Session, person: Person) -> str | None:
        if person.user_id is None:
            return None
        user = session.get(User, person.user_id)
        return user.name if user else None

    # ---- writing ---------------------------------------------------------------------------------

    def create(self, data: PersonIn) -> PersonOut:
        with self.db.session() as session:
            key = data.stable_key
            if session.scalar(select(Person.id).where(Person.key == key)) is not None:
                raise Conflict(f"a person with key {key!r} already exists; update it instead")
            person = Person(key=key, created_at=utcnow())
            self._apply(session, person, data)
            session.add(person)
            session.flush()
            self.vectors.sync(session, [person])
            return to_out(person, self._user_name(session, person))

    def update(self, person_id: int, patch: PersonUpdate, *, principal: Principal) -> PersonOut:
        with self.db.session() as session:
            person = find_person(session, person_id)
            is_owner = person.user_id is not None and person.user_id == principal.id
            if principal.role != Role.admin:
                if not is_owner:
                    raise Forbidden("you can only edit your own profile")
                locked = patch.admin_only_fields()
                if locked:
                    raise Forbidden(f"only an admin can change {', '.join(locked)}")
                if (patch.capacity or 0) > self.settings.default_capacity:
                    most = self.settings.default_capacity
                    raise Forbidden(
                        f"a capacity above {most} needs the program admin's approval; ask an admin"
                    )
            merged = self._merged(session, person, patch)
            if merged.stable_key != person.key and session.scalar(
                select(Person.id).where(Person.key == merged.stable_key)
            ):
                raise Conflict(f"a person with key {merged.stable_key!r} already exists")
            before = _snapshot(person)
            person.key = merged.stable_key
            self._apply(session, person, merged, keep_user="user" not in patch.model_fields_set)
            if _snapshot(person) != before:
                person.updated_at = utcnow()
            session.flush()
            self.vectors.sync(session, [person])
            return to_out(person, self._user_name(session, person))

    def delete(self, person_id: int) -> PersonBrief:
        with self.db.session() as session:
            person = find_person(session, person_id)
            out = brief(person)
            session.delete(person)
            return out

    def _merged(self, session: Session, person: Person, patch: PersonUpdate) -> PersonIn:
        current: dict[str, Any] = {name: getattr(person, name) for name in _PROFILE_FIELDS}
        current.update(key=person.key, manager=person.manager_key, user=self._user_name(session, person))
        current.update(patch.model_dump(exclude_unset=True))
        if current.get("user") == "":
            current["user"] = None
        try:
            return PersonIn.model_validate(current)
        except ValidationError as exc:
            raise InvalidInput(validation_message(exc)) from None

    def _apply(self, session: Session, person: Person, data: PersonIn, *, keep_user: bool = False) -> None:
        capacity = 0
        if data.role == "mentor":
            capacity = self.settings.default_capacity if data.capacity is None else data.capacity
            if capacity > self.settings.max_capacity:
                raise InvalidInput(
                    f"capacity {capacity} is above the program's limit of {self.settings.max_capacity} "
                    "(COMPANION_MATCHING__MAX_CAPACITY)"
                )
        if not keep_user:
            person.user_id = self._user_for(session, data, person)
        elif person.user_id is not None:
            user = session.get(User, person.user_id)
            if user is not None and user.role != data.role:
                raise InvalidInput(f"the linked user {user.name!r} has role {user.role}, not {data.role}")
        person.name = data.name
        person.email = data.email
        person.role = data.role
        person.department = data.department
        person.site = data.site
        person.manager_key = data.manager
        person.seniority = data.seniority
        person.timezone = data.timezone
        person.languages = list(data.languages)
        person.skills = list(data.skills or [])
        person.expertise = data.expertise or ""
        person.goals = data.goals or ""
        person.bio = data.bio or ""
        person.capacity = capacity
        person.preferences = (data.preferences or Preferences()).model_dump(exclude_defaults=True)
        if person.updated_at is None:
            person.updated_at = utcnow()

    @staticmethod
    def _user_for(session: Session, data: PersonIn, person: Person) -> int | None:
        if not data.user:
            return None
        user = session.scalar(select(User).where(User.name == data.user))
        if user is None:
            raise InvalidInput(f"no user named {data.user!r}")
        if user.role != data.role:
            raise InvalidInput(
                f"user {data.user!r} has role {user.role}; a {data.role} profile needs a {data.role} account"
            )
        other = session.scalar(select(Person).where(Person.user_id == user.id, Person.id != person.id))
        if other is not None:
            raise Conflict(f"user {data.user!r} is already linked to {other.key!r}")
        return user.id

    # ---- import ----------------------------------------------------------------------------------

    def import_bytes(
        self, data: bytes, filename: str, *, sync: bool = False, dry_run: bool = False
    ) -> ImportReport:
        rows, ignored = parse_rows(data, filename, max_rows=self.max_import_rows)
        return self.import_rows(rows, ignored_columns=ignored, sync=sync, dry_run=dry_run)

    def import_file(self, path: Path, *, sync: bool = False, dry_run: bool = False) -> ImportReport:
        if not path.is_file():
            raise NotFound(f"no such file: {path}")
        return self.import_bytes(path.read_bytes(), path.name, sync=sync, dry_run=dry_run)

    def load_demo(self, *, seed: int, size: int) -> ImportReport:
        rows = demo_rows(seed, size)
        return self.import_rows(list(enumerate(rows, start=1)))

    def import_rows(
        self,
        rows: Iterable[tuple[int, object]],
        *,
        ignored_columns: Sequence[str] = (),
        sync: bool = False,
        dry_run: bool = False,
    ) -> ImportReport:
        """Upsert every good row. With `sync` the file is the whole organization: active people missing
        from it are deactivated (leavers: history kept, open proposals withdrawn). With `dry_run` the
        report says what would change and nothing is written."""
        report = ImportReport(ignored_columns=list(ignored_columns), sync=sync, dry_run=dry_run)
        with self.db.session() as session:
            existing = {p.key: p for p in session.scalars(select(Person))}
            first_row: dict[str, int] = {}
            touched: list[Person] = []
            unkeyed: list[int] = []
            for number, raw in rows:
                key: str | None = None
                try:
                    data = row_to_input(raw)
                    key = data.stable_key
                    if key in first_row:
                        raise InvalidInput(f"duplicate key {key!r} (see row {first_row[key]})")
                    person = existing.get(key)
                    if person is None:
                        person = Person(key=key, created_at=utcnow())
                        self._apply(session, person, data)
                        session.add(person)
                        session.flush()
                        existing[key] = person
                        report.created.append(key)
                    else:
                        before = _snapshot(person)
                        self._apply(session, person, data, keep_user=not data.user)
                        session.flush()
                        after = _snapshot(person)
                        if not person.active:
                            person.active, person.deactivated_at = True, None
                            report.reactivated.append(key)
                        if after == before:
                            report.unchanged.append(key)
                        else:
                            person.updated_at = utcnow()
                            report.updated.append(key)
                            report.changes[key] = sorted(k for k in after if after[k] != before.get(k))
                    first_row[key] = number
                    touched.append(person)
                except (InvalidInput, Conflict) as exc:
                    report.failed.append(RowFailure(row=number, key=key, reason=exc.message))
                    named = key or _row_key(raw)
                    if named is None:
                        unkeyed.append(number)
                    else:
                        first_row.setdefault(named, number)  # named in the file: not a leaver
            for person in touched:
                if person.manager_key and person.manager_key not in existing:
                    report.warnings.append(
                        RowFailure(
                            row=first_row.get(person.key, 0),
                            key=person.key,
                            reason=f"manager {person.manager_key!r} is not among the people; "
                            "the reporting-line rule cannot look above them",
                        )
                    )
            if sync:
                self._deactivate_leavers(session, existing, set(first_row), unkeyed, report)
            if dry_run:
                session.rollback()
                return report
            _, report.embedded = self.vectors.sync(session, touched)
        return report

    @staticmethod
    def _deactivate_leavers(
        session: Session,
        existing: dict[str, Person],
        in_file: set[str],
        unkeyed: list[int],
        report: ImportReport,
    ) -> None:
        if not in_file:
            raise InvalidInput(
                "the file names nobody; a sync would deactivate every person. Check the file and try again"
            )
        if unkeyed:
            rows = ", ".join(str(n) for n in unkeyed[:10])
            report.warnings.append(
                RowFailure(
                    row=unkeyed[0],
                    key=None,
                    reason=f"nobody was deactivated: row(s) {rows} name no person (no id or email), so "
                    "who is in the file is not known for sure; fix them and sync again",
                )
            )
            return
        now = utcnow()
        for key, person in existing.items():
            if key in in_file or not person.active:
                continue
            person.active, person.deactivated_at, person.updated_at = False, now, now
            report.deactivated.append(key)
            open_matches = session.scalars(
                select(Match).where(
                    Match.status == "proposed",
                    or_(Match.mentee_id == person.id, Match.mentor_id == person.id),
                )
            )
            for match in open_matches:
                match.status, match.updated_at = "withdrawn", now
                report.withdrawn += 1
        session.flush()
