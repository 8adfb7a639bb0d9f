"""PCL-5, the PTSD Checklist for DSM-5 (past-month version, without criterion A).

Source: Weathers FW, Litz BT, Keane TM, Palmieri PA, Marx BP, Schnurr PP. The PTSD Checklist
for DSM-5 (PCL-5). 2013. National Center for PTSD, U.S. Department of Veterans Affairs
(ptsd.va.gov); the measure is in the public domain. Psychometrics: Blevins CA et al., J Trauma
Stress 2015;28(6):489-498. The paper form asks to "circle one of the numbers"; the web form
asks to choose an answer, with the same five choices.
"""

from app.assessments.scoring import Instrument
from app.self_report.instruments.wording import Wording

WORDING = Wording(
    instrument=Instrument.pcl5,
    title="PTSD Checklist for DSM-5 (PCL-5)",
    instructions=(
        "Below is a list of problems that people sometimes have in response to a very stressful "
        "experience. Please read each problem carefully and then choose one answer to indicate how "
        "much you have been bothered by that problem in the past month."
    ),
    stem="In the past month, how much were you bothered by:",
    choice_labels=("Not at all", "A little bit", "Moderately", "Quite a bit", "Extremely"),
    items=(
        "Repeated, disturbing, and unwanted memories of the stressful experience?",
        "Repeated, disturbing dreams of the stressful experience?",
        "Suddenly feeling or acting as if the stressful experience were actually happening again "
        "(as if you were actually back there reliving it)?",
        "Feeling very upset when something reminded you of the stressful experience?",
        "Having strong physical reactions when something reminded you of the stressful experience "
        "(for example, heart pounding, trouble breathing, sweating)?",
        "Avoiding memories, thoughts, or feelings related to the stressful experience?",
        "Avoiding external reminders of the stressful experience (for example, people, places, "
        "conversations, activities, objects, or situations)?",
        "Trouble remembering important parts of the stressful experience?",
        "Having strong negative beliefs about yourself, other people, or the world (for example, "
        "having thoughts such as: I am bad, there is something seriously wrong with me, no one can "
        "be trusted, the world is completely dangerous)?",
        "Blaming yourself or someone else for the stressful experience or what happened after it?",
        "Having strong negative feelings such as fear, horror, anger, guilt, or shame?",
        "Loss of interest in activities that you used to enjoy?",
        "Feeling distant or cut off from other people?",
        "Trouble experiencing positive feelings (for example, being unable to feel happiness or "
        "have loving feelings for people close to you)?",
        "Irritable behavior, angry outbursts, or acting aggressively?",
        "Taking too many risks or doing things that could cause you harm?",
        'Being "superalert" or watchful or on guard?',
        "Feeling jumpy or easily startled?",
        "Having difficulty concentrating?",
        "Trouble falling or staying asleep?",
    ),
    source="PCL-5: Weathers, Litz, Keane, Palmieri, Marx & Schnurr 2013, National Center for "
    "PTSD; public domain.",
)
