"""Which clinic and staff member an OIDC token signs in as: the clinic is resolved first, from
what no tenant controls (the operator's KAP_OIDC_CLINIC_ID, the provider's clinic claim, or the
only clinic), and only that clinic's active staff are matched, in one email normal form that no
lookalike can reach. Clinic B's admin plays the attacker throughout."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from app.migrate import upgrade
from tests.auth.oidc_idp import (
    JwksServer,
    Keys,
    Member,
    assert_unauthorized,
    claims,
    member,
    signing_in,
)
from tests.support import databases
from tests.support.factories import Clinic, FakeClock, bearer, bootstrap


def problem(response: httpx.Response) -> dict[str, Any]:
    """What a 401 tells the caller (its request-specific fields left out)."""
    assert_unauthorized(response)
    body: dict[str, Any] = response.json()
    return {name: body[name] for name in ("type", "title", "status", "code", "detail")}


async def staff_id(clinic: Clinic, email: str) -> str:
    listed = await clinic.ok("GET", "/api/v1/staff", params={"limit": 200})
    return str(next(item["id"] for item in listed["items"] if item["email"] == email))


# --- The clinic comes first ----------------------------------------------------------------------


async def test_another_clinics_rows_never_affect_a_login_by_clinic_claim(
    app: FastAPI,
    http: httpx.AsyncClient,
    clinic: Clinic,
    sso: httpx.AsyncClient,
    keys: Keys,
    clock: FakeClock,
) -> None:
    kate = await member(clinic, "clinician")
    attacker = await bootstrap(app, http, clock)

    async def signs_in() -> None:
        token = keys.rsa.sign(claims(clock, kate))
        here = await sso.get("/api/v1/clinic", headers=bearer(token))
        assert here.status_code == 200, here.text
        assert here.json()["id"] == clinic.id

    await signs_in()
    # B's admin adds A's clinician's email (in another case): B's answer says nothing about A.
    copy = await member(attacker, "scheduler", email=kate.email.upper())
    await signs_in()
    copy_id = await staff_id(attacker, copy.email)
    await attacker.ok("PATCH", f"/api/v1/staff/{copy_id}", json={"active": False})
    await signs_in()
    # ... renames it, and moves another member of B onto the address.
    await attacker.ok("PATCH", f"/api/v1/staff/{copy_id}", json={"email": "gone@b.example"})
    other = await member(attacker, "admin")
    other_id = await staff_id(attacker, other.email)
    await attacker.ok("PATCH", f"/api/v1/staff/{other_id}", json={"email": kate.email})
    await signs_in()
    # A token naming clinic B is B's record, with B's role, never A's.
    there = keys.rsa.sign(claims(clock, Member(kate.email, attacker.id)))
    assert (await sso.get("/api/v1/staff", headers=bearer(there))).status_code == 200
    assert (await sso.get("/api/v1/clinic", headers=bearer(there))).json()["id"] == attacker.id


async def test_answers_never_depend_on_another_clinics_staff(
    app: FastAPI,
    http: httpx.AsyncClient,
    clinic: Clinic,
    sso: httpx.AsyncClient,
    keys: Keys,
    clock: FakeClock,
) -> None:
    attacker = await bootstrap(app, http, clock)
    active = await member(clinic, "clinician")
    inactive = await member(clinic, "clinician")
    await clinic.ok(
        "PATCH", f"/api/v1/staff/{await staff_id(clinic, inactive.email)}", json={"active": False}
    )
    nobody = f"nobody-{clinic.id[:8]}@sso.example"

    async def answer(email: str, clinic_id: str) -> dict[str, Any]:
        token = keys.rsa.sign(claims(clock, Member(email, clinic_id)))
        return problem(await sso.get("/api/v1/clients", headers=bearer(token)))

    # Tokens for clinic B: whether A has the email, active or not, shows nowhere in the answer.
    expected = await answer(nobody, attacker.id)
    assert await answer(active.email, attacker.id) == expected
    assert await answer(inactive.email, attacker.id) == expected
    # In A itself an inactive member is told no more than an unknown one.
    assert await answer(inactive.email, clinic.id) == await answer(nobody, clinic.id)


async def test_without_a_clinic_claim_a_service_of_several_clinics_refuses_alike(
    app: FastAPI,
    http: httpx.AsyncClient,
    clinic: Clinic,
    sso: httpx.AsyncClient,
    keys: Keys,
    clock: FakeClock,
) -> None:
    kate = await member(clinic, "clinician")
    attacker = await bootstrap(app, http, clock)

    async def claimless(email: str) -> dict[str, Any]:
        token = keys.rsa.sign(claims(clock, email))
        return problem(await sso.get("/api/v1/clients", headers=bearer(token)))

    # Never "the email is staff of several clinics", which B could cause and read as a yes.
    alone = await claimless(kate.email)
    assert "kap_clinic_id" in alone["detail"]
    await member(attacker, "clinician", email=kate.email)
    assert await claimless(kate.email) == alone
    assert await claimless(f"nobody-{clinic.id[:8]}@sso.example") == alone
    # A claim that is no clinic id is refused, whatever the email.
    for value in ("not-a-uuid", 7, ["x"]):
        token = keys.rsa.sign(claims(clock, kate, kap_clinic_id=value))
        response = await sso.get("/api/v1/clients", headers=bearer(token))
        assert "not a clinic id" in problem(response)["detail"], value


async def test_with_the_clinic_set_by_the_operator_no_other_clinic_can_lock_a_member_out(
    app: FastAPI,
    http: httpx.AsyncClient,
    database_url: str,
    clinic: Clinic,
    idp: JwksServer,
    keys: Keys,
    clock: FakeClock,
) -> None:
    kate = await member(clinic, "clinician")
    attacker = await bootstrap(app, http, clock)
    async with signing_in(database_url, clock, idp, oidc_clinic_id=clinic.id) as (_, sso):

        async def get(who: Member | str, url: str = "/api/v1/clinic") -> httpx.Response:
            return await sso.get(url, headers=bearer(keys.ec.sign(claims(clock, who))))

        async def signs_in() -> None:
            response = await get(kate.email)
            assert response.status_code == 200, response.text
            assert response.json()["id"] == clinic.id

        await signs_in()
        copy = await member(attacker, "admin", email=kate.email)
        await signs_in()
        await attacker.ok(
            "PATCH", f"/api/v1/staff/{await staff_id(attacker, copy.email)}", json={"active": False}
        )
        await signs_in()
        assert (await get(kate)).status_code == 200  # a claim naming that clinic is fine
        # B's own members do not sign in through A's provider, with or without B's claim.
        bob = await member(attacker, "admin")
        assert_unauthorized(await get(bob.email))
        refused = await get(bob)
        assert "does not sign in to" in problem(refused)["detail"]
        assert_unauthorized(await get(Member(kate.email, attacker.id)))


@asynccontextmanager
async def fresh_database(backend: str, folder: Path) -> AsyncIterator[str]:
    """A new migrated database with no clinic in it, on the test's backend."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'one-clinic.db'}"
        await asyncio.to_thread(upgrade, url)
        yield url
        return
    async with databases.scratch_postgres() as url:
        yield url


async def test_a_service_with_one_clinic_needs_no_clinic_claim(
    backend: str, tmp_path: Path, idp: JwksServer, keys: Keys, clock: FakeClock
) -> None:
    async with (
        fresh_database(backend, tmp_path) as url,
        signing_in(url, clock, idp) as (application, sso),
    ):
        only = await bootstrap(application, sso, clock)
        kate = await member(only, "clinician")

        async def claimless() -> httpx.Response:
            token = keys.rsa.sign(claims(clock, kate.email))
            return await sso.get("/api/v1/clinic", headers=bearer(token))

        assert (await claimless()).json()["id"] == only.id
        # Only the operator adds clinics (`kap-journey bootstrap`); from then on tokens need
        # the claim, whatever the new clinic holds.
        await bootstrap(application, sso, clock)
        assert "kap_clinic_id" in problem(await claimless())["detail"]
        token = keys.rsa.sign(claims(clock, kate))
        assert (await sso.get("/api/v1/clinic", headers=bearer(token))).json()["id"] == only.id


# --- Emails in Unicode ---------------------------------------------------------------------------

LOOKALIKES = {
    "Kelvin sign": ("kate@look.example", "\u212aate@look.example"),
    "fullwidth k": ("kate@look.example", "\uff4bate@look.example"),
    "all fullwidth": ("kate@look.example", "\uff4b\uff41\uff54\uff45@look.example"),
    "fullwidth full stop": ("kate@look.example", "kate@look\uff0eexample"),
    "long s": ("sam@look.example", "\u017fam@look.example"),
    "ligature ff": ("effie@look.example", "e\ufb00ie@look.example"),
    "dotted capital I": ("kim@look.example", "k\u0130m@look.example"),
    "sharp s": ("strasse@look.example", "stra\u00dfe@look.example"),
    "capital sharp s": ("strasse@look.example", "STRA\u1e9eE@look.example"),
    "an invisible joiner in the domain": ("kate@look.example", "kate@lo\u034fok.example"),
    "a variation selector in the domain": ("kate@look.example", "kate@look\ufe0f.example"),
}
# Not refused, but other addresses: they match no ASCII staff member.
OTHER_ADDRESSES = {
    "dotless i": ("kim@look.example", "k\u0131m@look.example"),
    "Cyrillic a": ("kate@look.example", "k\u0430te@look.example"),
}


async def test_lookalike_emails_never_sign_in_as_an_ascii_address(
    clinic: Clinic, sso: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    for ascii_address in {plain for plain, _ in (*LOOKALIKES.values(), *OTHER_ADDRESSES.values())}:
        await member(clinic, "admin", email=ascii_address)

    async def get(email: str) -> httpx.Response:
        token = keys.rsa.sign(claims(clock, Member(email, clinic.id)))
        return await sso.get("/api/v1/staff", headers=bearer(token))

    for what, (plain, lookalike) in LOOKALIKES.items():
        assert (await get(plain)).status_code == 200, what
        assert "is refused" in problem(await get(lookalike))["detail"], what
    for what, (plain, other) in OTHER_ADDRESSES.items():
        assert (await get(plain)).status_code == 200, what
        assert "active staff member" in problem(await get(other))["detail"], what


async def test_non_ascii_emails_match_in_their_one_normal_form(
    clinic: Clinic, sso: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    jose = await member(clinic, "clinician", email="JOS\u00c9@B\u00dcCHER.example")
    assert jose.email == "jos\u00e9@b\u00fccher.example"

    async def status(email: str) -> int:
        token = keys.rsa.sign(claims(clock, Member(email, clinic.id)))
        return (await sso.get("/api/v1/clients", headers=bearer(token))).status_code

    assert await status("Jos\u00e9@B\u00fccher.Example") == 200
    assert await status("jos\u00e9@xn--bcher-kva.example") == 200  # the same domain, in punycode
    assert await status("jose\u0301@b\u00fccher.example") == 401  # decomposed: not NFKC
    assert await status("jose@bucher.example") == 401
    # Compatibility lookalikes of non-ASCII addresses are refused too: the Greek beta symbol
    # and halfwidth katakana, which NFKC would fold onto these members' addresses.
    await member(clinic, "clinician", email="\u03b1\u03b2\u03b3@look.example")
    await member(clinic, "clinician", email="\u30cf\u30ca@look.example")
    assert await status("\u03b1\u03b2\u03b3@look.example") == 200
    assert await status("\u03b1\u03d0\u03b3@look.example") == 401
    assert await status("\u30cf\u30ca@look.example") == 200
    assert await status("\uff8a\uff85@look.example") == 401


# --- email_verified ------------------------------------------------------------------------------


async def test_email_verified_must_be_true_unless_the_provider_never_sends_it(
    database_url: str, clinic: Clinic, idp: JwksServer, keys: Keys, clock: FakeClock
) -> None:
    kate = await member(clinic, "clinician")
    cases: dict[str, Any] = {"true": True, "missing": None, "false": False, "the string": "true"}
    expected = {
        True: {"true": 200, "missing": 401, "false": 401, "the string": 401},
        False: {"true": 200, "missing": 200, "false": 401, "the string": 401},
    }
    for required, statuses in expected.items():
        settings = {"oidc_require_email_verified": required}
        async with signing_in(database_url, clock, idp, **settings) as (_, sso):
            for what, value in cases.items():
                token = keys.rsa.sign(claims(clock, kate, email_verified=value))
                response = await sso.get("/api/v1/clients", headers=bearer(token))
                assert response.status_code == statuses[what], (required, what, response.text)
                if response.status_code == 401:
                    assert "email_verified" in problem(response)["detail"]
