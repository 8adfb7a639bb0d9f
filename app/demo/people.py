"""The people of the demo clinic: made-up names, staff and concerns."""

import random

from app.clients.models import PresentingConcern

FIRST_NAMES = (
    "Maya",
    "Daniel",
    "Aisha",
    "Tomas",
    "Elizabeth",
    "Kenji",
    "Grace",
    "Mateo",
    "Nadia",
    "Owen",
    "Priya",
    "Samuel",
    "Leila",
    "Marcus",
    "Ingrid",
    "Alexander",
    "Rosa",
    "Theodore",
    "Amara",
    "Jonathan",
    "Chloe",
    "Rafael",
    "Katherine",
    "Dmitri",
    "Fatima",
    "Noah",
    "Hana",
    "Benjamin",
    "Camila",
    "Isaac",
    "Margaret",
    "Tariq",
    "Yuki",
    "Nicholas",
    "Zara",
    "Elena",
    "Samantha",
    "Kwame",
    "Rebecca",
    "Lucas",
)
LAST_NAMES = (
    "Okafor",
    "Nguyen",
    "Haddad",
    "Kowalski",
    "Brennan",
    "Tanaka",
    "Delgado",
    "Mensah",
    "Lindqvist",
    "Abernathy",
    "Castillo",
    "Whitfield",
    "Osei",
    "Bauer",
    "Moreau",
    "Sato",
    "Fitzgerald",
    "Park",
    "Mahmoud",
    "Reyes",
    "Sullivan",
    "Novak",
    "Gallagher",
    "Patel",
    "Rossi",
    "Dubois",
    "Hansen",
    "Adeyemi",
    "Chen",
    "Romero",
)
PREFERRED = {
    "Alexander": "Alex",
    "Benjamin": "Ben",
    "Elizabeth": "Liz",
    "Jonathan": "Jon",
    "Katherine": "Kate",
    "Margaret": "Maggie",
    "Nicholas": "Nick",
    "Theodore": "Theo",
    "Rebecca": "Becca",
    "Samantha": "Sam",
}
CONCERN_WEIGHTS = {
    PresentingConcern.depression: 5,
    PresentingConcern.trauma: 3,
    PresentingConcern.anxiety: 3,
    PresentingConcern.chronic_stress: 2,
    PresentingConcern.other: 1,
}
PRESCRIBER = ("Dr. Ana Rivera, MD", "ana.rivera@example.com")
THERAPISTS = (
    ("Jordan Ellis, LMFT", "jordan.ellis@example.com"),
    ("Dr. Priya Natarajan, PsyD", "priya.natarajan@example.com"),
    ("Marisol Vega, LCSW", "marisol.vega@example.com"),
)
SCHEDULER = ("Sam Whitaker", "sam.whitaker@example.com")
# Dosing sessions include monitoring: about two hours for IV, IM and esketamine nasal spray,
# three for lozenges and oral doses, whose effects come on and wear off more slowly.


def names(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """Shuffled names: no first or last name repeats until its list runs out, and no pair below
    40 x 30 clients (the last-name index steps by 40 + 1, coprime with 30)."""
    firsts = rng.sample(FIRST_NAMES, len(FIRST_NAMES))
    lasts = rng.sample(LAST_NAMES, len(LAST_NAMES))
    width = len(firsts)
    return [(firsts[i % width], lasts[(i + i // width) % len(lasts)]) for i in range(count)]
