"""The published wording of each instrument the self-report form shows, one module each.

The wording is the instruments' own, kept word for word so that a self-report scores the same
as the paper form; only the instruction to "circle" or "check" an answer reads "choose" on the
web. The item counts and answer ranges must match app/assessments/scoring.py (a test checks it).
"""

from app.assessments.scoring import Instrument
from app.self_report.instruments import gad7, pcl5, phq9
from app.self_report.instruments.wording import Choice, Wording

__all__ = ["WORDINGS", "Choice", "Wording"]

WORDINGS: dict[Instrument, Wording] = {
    Instrument.phq9: phq9.WORDING,
    Instrument.gad7: gad7.WORDING,
    Instrument.pcl5: pcl5.WORDING,
}
