"""A seeded synthetic organization for demos, tests, evals and benchmarks: Larkfield Labs.

Larkfield Labs is the fictional software and hardware company of the sample handbook, with offices in
Leeds, Lisbon, Montreal and Bangalore and a few remote staff. `generate_org(seed, size)` returns import
rows (the same columns `companion people import` reads): a CEO, department heads, managers and their
teams, forming a manager hierarchy; each person has a seniority, a site and its time zone, working
languages, skills, and either a mentor's expertise or a mentee's goals written from a skills catalogue.
The same seed and size always give the same organization.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOMAIN = "larkfield.example"


@dataclass(frozen=True)
class Skill:
    name: str
    offers: tuple[str, str]
    needs: tuple[str, str]


def _skill(name: str, offer1: str, offer2: str, need1: str, need2: str) -> Skill:
    return Skill(name, (offer1, offer2), (need1, need2))


# Each skill: two things a mentor has done (read after "I"), two things a mentee wants (after "to").
SKILLS_BY_DEPARTMENT: dict[str, list[Skill]] = {
    "Firmware Engineering": [
        _skill(
            "embedded c",
            "have written embedded C for battery-powered sensors for ten years",
            "review most of the memory-safety fixes in our C firmware",
            "write embedded C I am confident shipping without a senior reviewer",
            "stop being afraid of pointer bugs and memory corruption in our C code",
        ),
        _skill(
            "rtos",
            "ported our products to a real-time operating system and tuned its scheduler",
            "teach task priorities, interrupts and timing analysis on the RTOS",
            "understand RTOS scheduling well enough to fix timing bugs myself",
            "design firmware tasks that meet their real-time deadlines",
        ),
        _skill(
            "firmware release process",
            "run the firmware release approval and know how a release really gets signed off",
            "rebuilt our over-the-air update pipeline for field devices",
            "own a firmware release from branch cut to sign-off",
            "learn how firmware releases get approved and what the reviewers look for",
        ),
        _skill(
            "low-power design",
            "cut the standby current of our wearable by half through power profiling",
            "coach teams on sleep modes and battery-life budgets",
            "get better at power profiling and extending battery life",
            "make sensible trade-offs between features and battery life",
        ),
        _skill(
            "hardware debugging",
            "debug boards with oscilloscopes and logic analysers when nobody else can find the fault",
            "wrote our lab guide for tracking down intermittent hardware faults",
            "debug problems that sit between firmware and hardware",
            "get confident with the oscilloscope and logic analyser in the lab",
        ),
    ],
    "Hardware Engineering": [
        _skill(
            "pcb layout",
            "laid out high-density PCBs for every product generation since 2015",
            "review board layouts for manufacturability and cost",
            "design my first complete PCB layout from schematic to fabrication",
            "learn the layout rules that make a board easy to manufacture",
        ),
        _skill(
            "hardware bring-up",
            "led hardware bring-up for three generations of our sensor boards",
            "wrote the bring-up checklist the team uses on every new prototype",
            "run hardware bring-up on a new board without a senior engineer in the room",
            "plan a prototype bring-up and know what to test first",
        ),
        _skill(
            "signal integrity",
            "solve signal integrity and EMC problems on high-speed interfaces",
            "took two products through EMC certification",
            "understand signal integrity on high-speed buses",
            "pass EMC certification first time on my next product",
        ),
        _skill(
            "thermal design",
            "designed the thermal solution for our outdoor enclosures",
            "run thermal simulations and teach how to read them",
            "learn thermal design and simulation for small enclosures",
            "stop guessing about heat and model it properly",
        ),
        _skill(
            "hardware review board",
            "sit on the hardware review board and know what it expects from a design",
            "prepared dozens of engineers for their first design review",
            "present a design to the hardware review board with confidence",
            "prepare for my first hardware design review",
        ),
    ],
    "Platform Engineering": [
        _skill(
            "distributed systems",
            "designed the event pipeline that connects our devices to the cloud",
            "debug consistency and failure problems in distributed services",
            "design distributed services that stay correct when parts fail",
            "understand consensus, queues and retries well enough to lead a design",
        ),
        _skill(
            "kubernetes",
            "run our Kubernetes clusters and migrated every service onto them",
            "teach container basics through to cluster operations",
            "get comfortable operating services on Kubernetes",
            "move my team's services onto containers safely",
        ),
        _skill(
            "ci/cd pipelines",
            "rebuilt our continuous integration so builds take minutes instead of an hour",
            "set up release automation for the cloud services",
            "speed up our slow build and test pipeline",
            "automate our deployments so releases stop being stressful",
        ),
        _skill(
            "incident response",
            "led incident response for our largest outages and wrote the postmortem process",
            "coach on-call engineers through their first incidents",
            "stay calm and effective when I lead an incident",
            "get ready for my first on-call rotation",
        ),
        _skill(
            "observability",
            "built our metrics, tracing and alerting stack",
            "help teams design dashboards and alerts that people trust",
            "instrument services so problems show up before customers notice",
            "build alerts and dashboards my team actually uses",
        ),
        _skill(
            "api design",
            "designed the public device API that partners integrate with",
            "review API proposals for consistency and versioning",
            "design clean APIs that other teams enjoy using",
            "learn how to version an API without breaking partners",
        ),
    ],
    "Product Management": [
        _skill(
            "product discovery",
            "ran product discovery for our industrial monitoring line",
            "teach how to test an idea with customers before building it",
            "get better at discovery so we build what customers need",
            "validate product ideas with customers before we commit engineers",
        ),
        _skill(
            "roadmapping",
            "own the roadmap for the sensor platform and negotiate it across teams",
            "help teams say no to good ideas to protect the important ones",
            "build a roadmap that engineering and sales both believe in",
            "prioritise ruthlessly when everything looks urgent",
        ),
        _skill(
            "pricing strategy",
            "set pricing and packaging for two product launches",
            "run pricing experiments with the sales team",
            "understand how pricing and packaging decisions are made",
            "build a pricing proposal for a new product tier",
        ),
        _skill(
            "career change into product",
            "moved from firmware engineering into product management",
            "coach engineers who are considering a move into product",
            "make a career change from engineering into product management",
            "find out whether product management is the right next step for me",
        ),
    ],
    "Design": [
        _skill(
            "user research",
            "run user research with field technicians and factory operators",
            "teach interview techniques and how to synthesise findings",
            "plan and run user research interviews on my own",
            "turn research findings into decisions the team acts on",
        ),
        _skill(
            "interaction design",
            "designed the mobile setup flow used by most of our customers",
            "review interaction designs for clarity and consistency",
            "improve my interaction design for complex configuration flows",
            "design interfaces for people wearing gloves on a factory floor",
        ),
        _skill(
            "design systems",
            "built and maintain the Larkfield design system",
            "help teams contribute components back to the design system",
            "contribute to the design system and learn how it is governed",
            "build reusable components instead of one-off screens",
        ),
        _skill(
            "accessibility",
            "lead accessibility reviews for our apps and dashboards",
            "teach accessible design and testing with screen readers",
            "make our dashboards accessible and learn to test them properly",
            "learn the accessibility standards and apply them to my designs",
        ),
    ],
    "Data & Analytics": [
        _skill(
            "sql",
            "write and tune the SQL behind most of our business reporting",
            "teach SQL from first joins to window functions",
            "write complex SQL queries without asking for help",
            "get faster at answering business questions with SQL",
        ),
        _skill(
            "machine learning",
            "built the anomaly detection models that flag failing sensors",
            "take machine learning models from notebook to production",
            "move from analytics into machine learning",
            "ship my first machine learning model to production",
        ),
        _skill(
            "experimentation",
            "designed the A/B testing framework for our apps",
            "help teams design experiments and read results honestly",
            "design experiments and interpret their results with confidence",
            "learn enough statistics to run proper A/B tests",
        ),
        _skill(
            "data visualisation",
            "design dashboards that executives actually read",
            "teach how to tell a clear story with charts",
            "present data so that people understand it and act on it",
            "build dashboards that tell a clear story",
        ),
        _skill(
            "forecasting",
            "built the demand forecasting models used by manufacturing planning",
            "explain forecast uncertainty to non-specialists",
            "learn demand forecasting and time-series modelling",
            "explain forecast uncertainty to planners without losing them",
        ),
    ],
    "Manufacturing & Quality": [
        _skill(
            "supply chain",
            "managed component sourcing through the chip shortage",
            "plan supply for product launches across three contract manufacturers",
            "understand our supply chain and how sourcing decisions are made",
            "plan component supply for a product launch",
        ),
        _skill(
            "lean manufacturing",
            "introduced lean practices on our assembly lines",
            "run kaizen workshops with production teams",
            "apply lean methods to reduce waste on the line",
            "lead my first continuous improvement workshop",
        ),
        _skill(
            "quality management",
            "run our ISO 9001 quality system and its audits",
            "lead root-cause analysis on field returns",
            "lead a root-cause analysis of a field failure",
            "prepare for my first quality audit",
        ),
        _skill(
            "supplier negotiation",
            "negotiate contracts with our largest component suppliers",
            "coach buyers through difficult supplier conversations",
            "negotiate better terms with suppliers",
            "handle tough conversations with suppliers who miss deadlines",
        ),
    ],
    "Sales": [
        _skill(
            "enterprise sales",
            "closed our largest enterprise deals with utilities and manufacturers",
            "coach account executives on long, complex sales cycles",
            "manage long enterprise sales cycles with many stakeholders",
            "close my first enterprise deal",
        ),
        _skill(
            "negotiation",
            "negotiate multi-year contracts and pricing with customers",
            "teach negotiation preparation and how to hold a position",
            "negotiate with more confidence and stop giving discounts too early",
            "prepare properly for difficult negotiations",
        ),
        _skill(
            "account planning",
            "built the account planning process for our strategic customers",
            "help account managers grow existing customers",
            "write account plans that grow our existing customers",
            "think strategically about my largest accounts",
        ),
    ],
    "Customer Success": [
        _skill(
            "customer onboarding",
            "designed the onboarding programme for new enterprise customers",
            "train teams to run smooth device rollouts at customer sites",
            "run customer onboarding projects from kickoff to go-live",
            "make our customer rollouts smoother",
        ),
        _skill(
            "escalation handling",
            "handle the most difficult customer escalations",
            "coach support engineers on calming angry customers",
            "handle escalations with upset customers calmly",
            "learn how to de-escalate difficult customer calls",
        ),
        _skill(
            "technical support",
            "built our technical support knowledge base and triage process",
            "mentor support engineers moving into engineering roles",
            "troubleshoot customer problems faster",
            "move from technical support into an engineering role",
        ),
    ],
    "People & Finance": [
        _skill(
            "recruiting",
            "built our technical hiring process and trained the interviewers",
            "help hiring managers write roles that attract good candidates",
            "run a fair and efficient hiring process",
            "learn how recruiting works from sourcing to offer",
        ),
        _skill(
            "conflict resolution",
            "mediate conflicts between colleagues and teams",
            "coach managers through difficult conversations",
            "handle conflict in my team before it escalates",
            "have difficult conversations without avoiding them",
        ),
        _skill(
            "financial modelling",
            "build the financial models behind our product business cases",
            "teach budgeting and business cases to engineering managers",
            "build a business case with a proper financial model",
            "understand budgets and how finance decisions are made",
        ),
    ],
}

CROSS_CUTTING: list[Skill] = [
    _skill(
        "technical leadership",
        "grew from senior engineer to technical lead of a twelve-person team",
        "lead architecture reviews and help engineers make design decisions",
        "grow into a technical lead role",
        "lead technical decisions for my team without being the manager",
    ),
    _skill(
        "people management",
        "have managed engineering teams for eight years",
        "coach new managers through their first year",
        "become a confident first-time manager",
        "learn how to run one-to-ones and give my reports useful feedback",
    ),
    _skill(
        "public speaking",
        "speak regularly at industry conferences",
        "coach colleagues preparing their first conference talk",
        "present at a conference without freezing",
        "get comfortable speaking in front of large groups",
    ),
    _skill(
        "stakeholder communication",
        "manage expectations with senior stakeholders across sites",
        "help people write updates that executives actually read",
        "communicate clearly with stakeholders in other departments",
        "keep stakeholders informed without drowning them in detail",
    ),
    _skill(
        "presenting to executives",
        "present quarterly results to the leadership team",
        "prepare people for their first executive review",
        "present to the leadership team with confidence",
        "make a crisp case to executives in ten minutes",
    ),
    _skill(
        "career growth",
        "built a career by moving between hardware, software and product roles",
        "help people plan their next career step and build a promotion case",
        "build a strong case for my promotion",
        "plan the next two years of my career",
    ),
    _skill(
        "managing up",
        "worked with many different managers and learned how to manage up",
        "coach people on building a good relationship with their manager",
        "build a better working relationship with my manager",
        "ask for what I need from my manager",
    ),
    _skill(
        "work-life balance",
        "learned to set boundaries after burning out early in my career",
        "help people plan their workload and protect their focus time",
        "set boundaries and stop working every evening",
        "manage my energy during busy release periods",
    ),
    _skill(
        "cross-team collaboration",
        "coordinated projects that spanned hardware, firmware and cloud teams",
        "help teams agree on interfaces and shared plans",
        "work better with teams at other sites",
        "lead a project that spans several teams",
    ),
    _skill(
        "writing design docs",
        "write and review most of the design documents in my group",
        "teach how to write a design doc that gets a decision",
        "write design documents that get decisions made",
        "structure my technical writing so reviewers follow it",
    ),
]

ALL_SKILLS: dict[str, Skill] = {
    s.name: s for group in [*SKILLS_BY_DEPARTMENT.values(), CROSS_CUTTING] for s in group
}

DEPARTMENT_WEIGHTS = {
    "Firmware Engineering": 12,
    "Hardware Engineering": 11,
    "Platform Engineering": 15,
    "Product Management": 7,
    "Design": 6,
    "Data & Analytics": 8,
    "Manufacturing & Quality": 10,
    "Sales": 9,
    "Customer Success": 9,
    "People & Finance": 6,
}

ROLE_NOUN = {
    "Firmware Engineering": "firmware engineer",
    "Hardware Engineering": "hardware engineer",
    "Platform Engineering": "software engineer",
    "Product Management": "product manager",
    "Design": "designer",
    "Data & Analytics": "data analyst",
    "Manufacturing & Quality": "manufacturing engineer",
    "Sales": "account executive",
    "Customer Success": "customer success manager",
    "People & Finance": "people partner",
}


@dataclass(frozen=True)
class Site:
    name: str
    timezone: str
    weight: int


SITES = [
    Site("Leeds", "Europe/London", 35),
    Site("Lisbon", "Europe/Lisbon", 20),
    Site("Montreal", "America/Toronto", 20),
    Site("Bangalore", "Asia/Kolkata", 20),
    Site("Remote", "", 5),
]
REMOTE_ZONES = ["America/Vancouver", "Asia/Singapore", "Europe/Berlin"]

FIRST_NAMES = {
    "Leeds": "Amelia Oliver Priya Harry Isla Jack Sophie Mohammed Grace Thomas Ella James Zara Daniel "
    "Hannah Samuel Chloe Adam Freya Aisha Megan Lewis Imran Katie Tomasz Agnieszka".split(),
    "Lisbon": "Beatriz João Inês Tiago Mariana Rui Carolina Pedro Sofia Miguel Leonor Diogo Marta André "
    "Catarina Bruno Rita Gonçalo Ana Nuno".split(),
    "Montreal": "Émilie Félix Camille Olivier Chloé Gabriel Léa William Sarah Mathieu Julie Antoine "
    "Noémie Samuel Maxime Laurence Ethan Audrey Justin Florence".split(),
    "Bangalore": "Aarav Ananya Vivek Divya Rahul Kavya Arjun Meera Rohan Sneha Karthik Lakshmi Nikhil "
    "Pooja Siddharth Deepa Aditya Shreya Varun Nandini".split(),
    "Remote": "Lena Jonas Wei Mei Tyler Emma Lukas Hana Ryan Lina".split(),
}
LAST_NAMES = {
    "Leeds": "Walker Hughes Patel Wright Khan Wood Turner Ahmed Clarke Robinson Hall Shaw Kowalski "
    "Nowak Jackson Green Hussain Barker Lee Bennett".split(),
    "Lisbon": "Silva Santos Ferreira Pereira Oliveira Costa Rodrigues Martins Sousa Fernandes Gomes "
    "Lopes Marques Almeida Ribeiro Carvalho".split(),
    "Montreal": "Tremblay Gagnon Roy Côté Bouchard Gauthier Morin Lavoie Fortin Gagné Pelletier "
    "Bélanger Lévesque Bergeron Leblanc Smith".split(),
    "Bangalore": "Sharma Reddy Iyer Nair Rao Kumar Menon Gupta Hegde Krishnan Shetty Joshi Pillai "
    "Bhat Verma Desai".split(),
    "Remote": "Schmidt Müller Chen Tan Lim Brooks Fischer Wong Becker Hughes".split(),
}
SENIORITY_MIX = [("junior", 25), ("mid", 35), ("senior", 25), ("staff", 10), ("principal", 5)]
CAPACITY_MIX = [("1", 4), ("2", 5), ("3", 1)]
YEARS = {
    "junior": (1, 3),
    "mid": (2, 6),
    "senior": (4, 10),
    "staff": (6, 15),
    "principal": (8, 18),
    "manager": (5, 12),
    "director": (8, 20),
    "executive": (10, 25),
}
MENTOR_TEMPLATES = [
    "I {o1}. I also {o2}.{more}",
    "Over {years} years at Larkfield I {o1}, and I {o2}.{more}",
    "I {o1}. More recently I {o2}.{more}",
]
MENTEE_TEMPLATES = [
    "I want to {n1}. I would also like to {n2}.",
    "This cycle my goal is to {n1}. Longer term I hope to {n2}.",
    "I'd like a mentor who can help me {n1}. I also want to {n2}.",
    "My main goal is to {n1}. Next I want to {n2}.",
]


def _email(first: str, last: str, used: set[str]) -> str:
    plain = (
        f"{first}.{last}".lower()
        .translate(str.maketrans("áàâãçéèêëíîóôõúüö", "aaaaceeeeiiooouuo"))
        .replace(" ", "")
    )
    candidate, n = plain, 1
    while candidate in used:
        n += 1
        candidate = f"{plain}{n}"
    used.add(candidate)
    return f"{candidate}@{DOMAIN}"


def _languages(rng: random.Random, site: str, timezone: str) -> list[str]:
    roll = rng.random()
    if site == "Leeds":
        extra = ["polish"] if roll < 0.1 else ["urdu"] if roll < 0.18 else []
        return ["english", *extra]
    if site == "Lisbon":
        langs = ["portuguese", "english"] if roll < 0.88 else ["portuguese"]
        return [*langs, "spanish"] if rng.random() < 0.1 else langs
    if site == "Montreal":
        return ["french", "english"] if roll < 0.8 else ["french"] if roll < 0.92 else ["english"]
    if site == "Bangalore":
        second = "hindi" if roll < 0.65 else "kannada"
        langs = ["english", second]
        return [*langs, "tamil"] if rng.random() < 0.1 else langs
    if timezone == "Asia/Singapore":
        return ["english", "mandarin"]
    if timezone == "Europe/Berlin":
        return ["german", "english"]
    return ["english"]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


@dataclass
class _Draft:
    email: str
    name: str
    department: str
    site: str
    timezone: str
    seniority: str
    manager: str | None
    languages: list[str]
    years: int


def generate_org(seed: int = 7, size: int = 300) -> list[dict[str, Any]]:
    """Import rows for a synthetic Larkfield Labs of `size` people (at least 20)."""
    if size < 20:
        raise ValueError("the demo organization needs at least 20 people")
    rng = random.Random(seed)
    used: set[str] = set()
    drafts: list[_Draft] = []

    def person(department: str, site: Site, seniority: str, manager: str | None) -> _Draft:
        first = rng.choice(FIRST_NAMES[site.name])
        last = rng.choice(LAST_NAMES[site.name])
        timezone = site.timezone or rng.choice(REMOTE_ZONES)
        draft = _Draft(
            email=_email(first, last, used),
            name=f"{first} {last}",
            department=department,
            site=site.name,
            timezone=timezone,
            seniority=seniority,
            manager=manager,
            languages=_languages(rng, site.name, timezone),
            years=rng.randint(*YEARS[seniority]),
        )
        drafts.append(draft)
        return draft

    site_weights = [(s.name, s.weight) for s in SITES]
    sites = {s.name: s for s in SITES}
    ceo = person("Leadership", sites["Leeds"], "executive", None)
    counts = _split(size - 1, DEPARTMENT_WEIGHTS)
    for department, count in counts.items():
        head = person(department, sites[_pick(rng, site_weights[:4])], "director", ceo.email)
        team_size = count - 1
        managers = [
            person(department, sites[_pick(rng, site_weights[:4])], "manager", head.email)
            for _ in range(team_size // 10)
        ]
        leads = managers or [head]
        for n in range(team_size - len(managers)):
            lead = leads[n % len(leads)]
            home = sites[lead.site] if rng.random() < 0.75 else sites[_pick(rng, site_weights)]
            person(department, home, _pick(rng, SENIORITY_MIX), lead.email)

    return [_finish(rng, d) for d in drafts]


def _split(total: int, weights: dict[str, int]) -> dict[str, int]:
    scale = sum(weights.values())
    counts = {k: max(2, total * w // scale) for k, w in weights.items()}
    keys = list(weights)
    i = 0
    while sum(counts.values()) < total:
        counts[keys[i % len(keys)]] += 1
        i += 1
    while sum(counts.values()) > total:
        key = max(counts, key=lambda k: counts[k])
        counts[key] -= 1
    return counts


def _role(rng: random.Random, seniority: str) -> str:
    chance = {"executive": 1, "director": 1, "manager": 0.85, "principal": 1, "staff": 1, "senior": 0.65}
    return "mentor" if rng.random() < chance.get(seniority, 0.1 if seniority == "mid" else 0.0) else "mentee"


def _finish(rng: random.Random, d: _Draft) -> dict[str, Any]:
    role = _role(rng, d.seniority)
    own = SKILLS_BY_DEPARTMENT.get(d.department, CROSS_CUTTING)
    noun = ROLE_NOUN.get(d.department, "leader")
    titles = {
        "executive": "Chief executive",
        "director": f"Head of {d.department}",
        "manager": f"{noun[:1].upper()}{noun[1:]}s manager in {d.department}",
        "mid": f"Mid-level {noun} in {d.department}",
    }
    title = titles.get(d.seniority, f"{d.seniority.title()} {noun} in {d.department}")
    row: dict[str, Any] = {
        "email": d.email,
        "name": d.name,
        "role": role,
        "department": d.department,
        "site": d.site,
        "manager": d.manager,
        "seniority": d.seniority,
        "timezone": d.timezone,
        "languages": d.languages,
        "bio": f"{title}, based in {d.site}; {d.years} years at Larkfield.",
        "preferences": {},
    }
    if role == "mentor":
        chosen = rng.sample(own, k=min(len(own), rng.randint(2, 4)))
        chosen += rng.sample([c for c in CROSS_CUTTING if c not in chosen], k=rng.randint(1, 2))
        manages = ALL_SKILLS["people management"]
        if d.seniority in ("manager", "director", "executive") and manages not in chosen:
            chosen.append(manages)
        if rng.random() < 0.12:
            other = rng.choice([g for k, g in SKILLS_BY_DEPARTMENT.items() if k != d.department])
            chosen.append(rng.choice(other))
        featured = [chosen[0], chosen[-1] if len(chosen) > 2 else chosen[1]]
        rest = [s.name for s in chosen if s not in featured]
        more = f" Happy to help with {', '.join(rest[:-1])} and {rest[-1]}." if len(rest) > 1 else ""
        if len(rest) == 1:
            more = f" Happy to help with {rest[0]} too."
        row["expertise"] = rng.choice(MENTOR_TEMPLATES).format(
            o1=rng.choice(featured[0].offers), o2=rng.choice(featured[1].offers), more=more, years=d.years
        )
        row["skills"] = [s.name for s in chosen]
        row["capacity"] = 1 if d.seniority in ("director", "executive") else int(_pick(rng, CAPACITY_MIX))
        if rng.random() < 0.1:
            row["preferences"] = {"department": "different"}
    else:
        roll = rng.random()
        if d.seniority == "manager":
            primary = ALL_SKILLS["people management"]
        elif roll < 0.65:
            primary = rng.choice(own)
        elif roll < 0.8:
            primary = rng.choice([s for k, g in SKILLS_BY_DEPARTMENT.items() if k != d.department for s in g])
        else:
            primary = rng.choice(CROSS_CUTTING)
        pool = [s for s in [*own, *CROSS_CUTTING] if s != primary]
        wanted = [primary, *rng.sample(pool, k=rng.randint(1, 2))]
        row["goals"] = rng.choice(MENTEE_TEMPLATES).format(
            n1=rng.choice(primary.needs), n2=rng.choice(wanted[1].needs)
        )
        row["skills"] = [s.name for s in wanted]
        prefs: dict[str, Any] = {}
        roll = rng.random()
        if roll < 0.3:
            prefs["department"] = "different"
        elif roll < 0.4:
            prefs["department"] = "same"
        if rng.random() < 0.15:
            prefs["site"] = rng.choice(["same", "different"])
        row["preferences"] = prefs
    return row


def add_preferred_and_avoided(rows: list[dict[str, Any]], seed: int) -> None:
    """Some mentees name preferred mentors (who offer their first wanted skill) or one person to avoid."""
    rng = random.Random(seed * 7919 + 1)
    mentors = [r for r in rows if r["role"] == "mentor"]
    for row in rows:
        if row["role"] != "mentee":
            continue
        roll = rng.random()
        if roll < 0.1:
            fits = [m["email"] for m in mentors if row["skills"][0] in m["skills"]]
            if fits:
                row["preferences"]["mentors"] = rng.sample(fits, k=min(len(fits), rng.randint(1, 3)))
        elif roll < 0.14:
            row["preferences"]["avoid"] = [rng.choice(mentors)["email"]]


def demo_rows(seed: int = 7, size: int = 300) -> list[dict[str, Any]]:
    rows = generate_org(seed, size)
    add_preferred_and_avoided(rows, seed)
    return rows


CSV_COLUMNS = [
    "email",
    "name",
    "role",
    "department",
    "site",
    "manager",
    "seniority",
    "timezone",
    "languages",
    "skills",
    "expertise",
    "goals",
    "bio",
    "capacity",
    "prefer_mentors",
    "avoid",
    "prefer_department",
    "prefer_site",
]


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        prefs = row.get("preferences") or {}
        flat = {k: v for k, v in row.items() if k in CSV_COLUMNS}
        flat.update(
            languages="; ".join(row.get("languages") or []),
            skills="; ".join(row.get("skills") or []),
            prefer_mentors="; ".join(prefs.get("mentors") or []),
            avoid="; ".join(prefs.get("avoid") or []),
            prefer_department=prefs.get("department") or "",
            prefer_site=prefs.get("site") or "",
        )
        writer.writerow({k: "" if v is None else v for k, v in flat.items()})
    return out.getvalue()


def write_rows(rows: list[dict[str, Any]], path: Path) -> None:
    """Write rows as CSV (`.csv`) or JSON (anything else)."""
    if path.suffix.lower() == ".csv":
        path.write_text(to_csv(rows), encoding="utf-8")
    else:
        path.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
