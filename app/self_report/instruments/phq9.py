"""PHQ-9, the Patient Health Questionnaire depression module.

Source: Kroenke K, Spitzer RL, Williams JBW. The PHQ-9: validity of a brief depression severity
measure. J Gen Intern Med 2001;16(9):606-613. Wording of the PHQ-9 as published by Pfizer
(PHQ Screeners, phqscreeners.com), developed by Drs. Robert L. Spitzer, Janet B.W. Williams,
Kurt Kroenke and colleagues with an educational grant from Pfizer Inc.: "No permission required
to reproduce, translate, display or distribute." The closing difficulty question is not scored
and is not asked here.
"""

from app.assessments.scoring import Instrument
from app.self_report.instruments.wording import Wording

WORDING = Wording(
    instrument=Instrument.phq9,
    title="Patient Health Questionnaire (PHQ-9)",
    instructions="Choose one answer for each question.",
    stem=(
        "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    ),
    choice_labels=("Not at all", "Several days", "More than half the days", "Nearly every day"),
    items=(
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself — or that you are a failure or have let yourself or your "
        "family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed? Or the opposite — "
        "being so fidgety or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ),
    source="PHQ-9: Kroenke, Spitzer & Williams 2001. Developed with an educational grant from "
    "Pfizer Inc.; no permission required to reproduce.",
)
