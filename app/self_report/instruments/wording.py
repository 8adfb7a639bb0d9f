"""The shape of an instrument's wording, as the self-report form shows it."""

from dataclasses import dataclass

from app.assessments.scoring import Instrument


@dataclass(frozen=True)
class Choice:
    value: int
    label: str


@dataclass(frozen=True)
class Wording:
    """One instrument's title, instructions, question stem, answer choices (scored 0, 1, ...
    in order) and items, with the source they are quoted from."""

    instrument: Instrument
    title: str
    instructions: str
    stem: str
    choice_labels: tuple[str, ...]
    items: tuple[str, ...]
    source: str

    @property
    def choices(self) -> tuple[Choice, ...]:
        return tuple(Choice(value, label) for value, label in enumerate(self.choice_labels))
