"""GAD-7, the Generalized Anxiety Disorder scale.

Source: Spitzer RL, Kroenke K, Williams JBW, Löwe B. A brief measure for assessing generalized
anxiety disorder: the GAD-7. Arch Intern Med 2006;166(10):1092-1097. Wording of the GAD-7 as
published by Pfizer (PHQ Screeners, phqscreeners.com), free to reproduce: "No permission
required to reproduce, translate, display or distribute." The closing difficulty question is
not scored and is not asked here.
"""

from app.assessments.scoring import Instrument
from app.self_report.instruments.wording import Wording

WORDING = Wording(
    instrument=Instrument.gad7,
    title="Generalized Anxiety Disorder scale (GAD-7)",
    instructions="Choose one answer for each question.",
    stem="Over the last 2 weeks, how often have you been bothered by the following problems?",
    choice_labels=("Not at all", "Several days", "More than half the days", "Nearly every day"),
    items=(
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ),
    source="GAD-7: Spitzer, Kroenke, Williams & Löwe 2006. Developed with an educational grant "
    "from Pfizer Inc.; no permission required to reproduce.",
)
