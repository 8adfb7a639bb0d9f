"""Realistic client journeys as set-based SQL: PostgreSQL draws and expands them in bulk.

A client starts with one or two preparation sessions a week apart; 92 % go on to a series of one
to six doses (most complete six) on a Mon/Thu rhythm from two weeks after intake, and a quarter of
those who finish six come back for one to four monthly boosters. After each dose an integration
session is usually booked the next day (in the window, linked to the dose 60 % of the time),
sometimes a second one two days after; 12 % of doses get none (unbooked or missed), 7 % get one
four days later linked to the dose (after a 72 h window), 2 % get one the next day linked to the
following dose (before that one's window), and 3 % of clients have an integration booked before
any dose (no ketamine session). Sessions that ended before `now` are mostly completed, with
cancellations, no-shows and a few stale `scheduled` ones nobody updated; later ones are
scheduled or cancelled. Completed doses carry a dosing record (vitals with the pre-dose peaks,
dose time, discharge, transport, the REMS form for esketamine) shaped as the API stores it.
Non-cancelled sessions of one client never overlap, as the API guarantees.

The statements run in order on one connection, over temporary tables:
  scale_params(now, newest, every), scale_clinics(n, clinic_id, clinicians, quota, clients)
  -> plan (one row per client) -> plan_doses -> draft (one row per session, with its status)
  -> clients, sessions, assessments.
Each clinic takes clients from the newest intake backwards until it holds `quota` sessions; the
last client's latest sessions are trimmed to hit the quota exactly.
"""

from app.assessments.scoring import Instrument, severity_of

PHQ9_TOP = 27


def _severity_array() -> str:
    """PHQ-9 band names by total (index total + 1), from the app's own scoring."""
    names = []
    for total in range(PHQ9_TOP + 1):
        band = severity_of(Instrument.phq9, total)
        assert band is not None
        names.append(f"'{band.value}'")
    return f"ARRAY[{', '.join(names)}]"


def _z(column: str) -> str:
    """A timestamp as the API's JSON has it: UTC with a Z."""
    return f"""to_char(({column}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


PLAN = """
CREATE TEMP TABLE plan AS
SELECT s.*,
    CASE WHEN r_route < .45 THEN 'iv' WHEN r_route < .60 THEN 'im'
         WHEN r_route < .80 THEN 'sublingual' WHEN r_route < .92 THEN 'intranasal'
         ELSE 'oral' END AS route,
    CASE WHEN r_drop < .08 THEN 0 WHEN r_length < .05 THEN 1 WHEN r_length < .10 THEN 2
         WHEN r_length < .18 THEN 3 WHEN r_length < .28 THEN 4 WHEN r_length < .38 THEN 5
         ELSE 6 END AS doses,
    r_prep < .6 AS second_preparation,
    r_noket < .03 AS integration_first
FROM (
    SELECT gen_random_uuid() AS client_id, c.n AS clinic_n, c.clinic_id, g.k,
        c.clinicians[1 + floor(random() * cardinality(c.clinicians))::int] AS clinician_id,
        c.clinicians[1 + floor(random() * cardinality(c.clinicians))::int] AS dosing_clinician_id,
        date_trunc('day', p.newest - g.k * p.every)
            + make_interval(hours => 14 + floor(random() * 9)::int,
                            mins => 15 * floor(random() * 4)::int) AS intake,
        50 + floor(random() * 71)::int AS weight,
        random() AS r_route, random() AS r_drop, random() AS r_length, random() AS r_boost,
        random() AS r_prep, random() AS r_noket, random() AS r_archived, random() AS r_name
    FROM scale_clinics c CROSS JOIN scale_params p
    CROSS JOIN LATERAL generate_series(0, c.clients - 1) AS g(k)
) s
"""

PLAN_DOSES = """
CREATE TEMP TABLE plan_doses AS
SELECT d.*, lead(d.dose_id) OVER (PARTITION BY d.client_id ORDER BY d.j) AS next_dose_id
FROM (
    SELECT gen_random_uuid() AS dose_id, p.client_id, j,
        p.intake + make_interval(days => CASE WHEN j <= 6 THEN (ARRAY[14, 17, 21, 24, 28, 31])[j]
                                              ELSE 31 + 30 * (j - 6) END) AS starts_at,
        random() AS r_integration, random() AS r_link, random() AS r_second,
        random() AS r_hour, random() AS r_hour2
    FROM plan p
    CROSS JOIN LATERAL generate_series(
        1, p.doses + CASE WHEN p.doses = 6 AND p.r_boost < .25
                          THEN 1 + floor(p.r_boost * 16)::int ELSE 0 END) AS j
) d
"""

# Clients past their clinic's quota (counted from the newest intake back) are dropped.
KEEP_QUOTA = """
WITH counts AS (
    SELECT p.client_id, p.clinic_n, p.k,
        1 + p.second_preparation::int + p.integration_first::int
          + coalesce(d.doses, 0) + coalesce(d.integrations, 0) AS sessions
    FROM plan p LEFT JOIN (
        SELECT client_id, count(*) AS doses,
            count(*) FILTER (WHERE r_integration >= .12)
              + count(*) FILTER (WHERE r_integration >= .19 AND r_second < .15) AS integrations
        FROM plan_doses GROUP BY client_id
    ) d ON d.client_id = p.client_id
), running AS (
    SELECT client_id, clinic_n,
        sum(sessions) OVER (PARTITION BY clinic_n ORDER BY k) - sessions AS before
    FROM counts
)
DELETE FROM plan p USING running r, scale_clinics c
WHERE p.client_id = r.client_id AND c.n = r.clinic_n AND r.before >= c.quota
"""

DROP_UNKEPT_DOSES = """
DELETE FROM plan_doses d WHERE NOT EXISTS (SELECT 1 FROM plan p WHERE p.client_id = d.client_id)
"""

DRAFT = """
CREATE TEMP TABLE draft AS
SELECT r.*,
    CASE WHEN r.ends_at <= r.now THEN
             CASE WHEN r.r_status < .88 THEN 'completed' WHEN r.r_status < .93 THEN 'cancelled'
                  WHEN r.r_status < .96 THEN 'no_show' ELSE 'scheduled' END
         WHEN r.starts_at <= r.now THEN 'scheduled'
         WHEN r.r_status < .94 THEN 'scheduled' ELSE 'cancelled' END AS status
FROM (
    SELECT parts.*, parts.starts_at + parts.minutes * interval '1 minute' AS ends_at, p.now,
        random() AS r_status, random() AS r_ended, random() AS r_minutes, random() AS r_place,
        random() AS r_notes, random() AS r_external, random() AS r_booked, random() AS r_transport,
        random() AS r_vitals, random() AS r_pressure, random() AS r_reading, random() AS r_event,
        random() AS r_discharge, random() AS r_monitored, random() AS r_rems, random() AS r_assess
    FROM (
        SELECT gen_random_uuid() AS id, p.client_id, p.clinic_n, p.k, p.clinic_id,
            p.clinician_id, 'preparation' AS kind, p.intake + day * interval '1 day' AS starts_at,
            60 AS minutes, NULL AS route, NULL::int AS weight, NULL::uuid AS link,
            day = 0 AS assessable
        FROM plan p CROSS JOIN LATERAL unnest(
            CASE WHEN p.second_preparation THEN ARRAY[0, 7] ELSE ARRAY[0] END) AS day
      UNION ALL
        SELECT gen_random_uuid(), p.client_id, p.clinic_n, p.k, p.clinic_id, p.clinician_id,
            'integration', p.intake + interval '10 days', 50, NULL, NULL, NULL, false
        FROM plan p WHERE p.integration_first
      UNION ALL
        SELECT d.dose_id, p.client_id, p.clinic_n, p.k, p.clinic_id, p.dosing_clinician_id,
            'ketamine', d.starts_at,
            CASE p.route WHEN 'iv' THEN 60 WHEN 'im' THEN 60 WHEN 'sublingual' THEN 90 ELSE 120 END,
            p.route, p.weight, NULL, d.j = 6
        FROM plan_doses d JOIN plan p USING (client_id)
      UNION ALL
        SELECT gen_random_uuid(), p.client_id, p.clinic_n, p.k, p.clinic_id, p.clinician_id,
            'integration',
            CASE WHEN d.r_integration < .19 THEN d.starts_at + interval '4 days 8 hours'
                 ELSE d.starts_at + interval '1 day'
                      + (floor(d.r_hour * 11)::int - 4) * interval '1 hour' END,
            50, NULL, NULL,
            CASE WHEN d.r_integration < .19 THEN d.dose_id
                 WHEN d.r_integration < .21 AND d.next_dose_id IS NOT NULL THEN d.next_dose_id
                 WHEN d.r_link < .6 THEN d.dose_id END,
            false
        FROM plan_doses d JOIN plan p USING (client_id) WHERE d.r_integration >= .12
      UNION ALL
        SELECT gen_random_uuid(), p.client_id, p.clinic_n, p.k, p.clinic_id, p.clinician_id,
            'integration',
            d.starts_at + interval '2 days' + floor(d.r_hour2 * 7)::int * interval '1 hour',
            50, NULL, NULL, NULL, false
        FROM plan_doses d JOIN plan p USING (client_id)
        WHERE d.r_integration >= .19 AND d.r_second < .15
    ) parts CROSS JOIN scale_params p
) r
"""

# Each clinic's last client loses its latest sessions beyond the quota, and links to them.
TRIM = """
WITH boundary AS (
    SELECT d.clinic_n, max(d.k) AS k, count(*) - min(c.quota) AS extra
    FROM draft d JOIN scale_clinics c ON c.n = d.clinic_n GROUP BY d.clinic_n
), ranked AS (
    SELECT d.id, b.extra,
        row_number() OVER (PARTITION BY d.clinic_n ORDER BY d.starts_at DESC) AS latest
    FROM draft d JOIN boundary b ON b.clinic_n = d.clinic_n AND b.k = d.k
)
DELETE FROM draft d USING ranked r WHERE d.id = r.id AND r.latest <= r.extra
"""

UNLINK_TRIMMED = """
UPDATE draft d SET link = NULL
WHERE d.link IS NOT NULL AND NOT EXISTS (SELECT 1 FROM draft x WHERE x.id = d.link)
"""

CLIENTS = """
INSERT INTO clients (id, clinic_id, first_name, last_name, preferred_name, date_of_birth, email,
    phone, primary_clinician_id, presenting_concerns, archived, created_at, updated_at, version)
SELECT p.client_id, p.clinic_id,
    (ARRAY['Ava', 'Ben', 'Chloe', 'Dev', 'Elif', 'Femi', 'Gus', 'Hana', 'Ivan', 'Jo'])
        [1 + floor(p.r_name * 10)::int],
    (ARRAY['Abbott', 'Baker', 'Chen', 'Diaz', 'Evans', 'Fischer', 'Garcia', 'Haddad'])
        [1 + (p.k % 8)],
    NULL, date '1950-01-01' + floor(p.r_name * 18000)::int,
    'client' || p.clinic_n || '.' || p.k || '@example.org',
    '+1555' || lpad((p.clinic_n * 100000 + p.k)::text, 7, '0'),
    p.clinician_id,
    (ARRAY['["depression"]', '["trauma"]', '["depression", "anxiety"]', '["chronic_stress"]'])
        [1 + (p.k % 4)]::json,
    p.intake + interval '60 days' < s.now AND p.r_archived < .04,
    least(p.intake - interval '3 days', s.now), least(p.intake - interval '3 days', s.now), 1
FROM plan p CROSS JOIN scale_params s
"""

SESSIONS = f"""
INSERT INTO sessions (id, clinic_id, client_id, clinician_id, kind, status, starts_at, ends_at,
    ended_at, cancellation_reason, location, notes, external_source, external_id, topics, route,
    dose_mg, weight_kg, ketamine_session_id, created_at, updated_at, version, medication,
    lot_number, vitals, adverse_events, dosed_at, discharged_at, transport_confirmed,
    rems_form_submitted_at, pre_dose_systolic_peak, pre_dose_diastolic_peak)
SELECT id, clinic_id, client_id, clinician_id, kind, status, starts_at, ends_at,
    CASE WHEN done AND r_ended < CASE WHEN dose THEN .7 ELSE .3 END
         THEN greatest(least(ends_at + (floor(r_minutes * 31)::int - 10) * interval '1 minute',
                             now), starts_at + interval '1 minute') END,
    CASE WHEN status = 'cancelled' THEN (ARRAY['Client rescheduled', 'Client unwell',
        'Transport fell through', 'Clinic closed'])[1 + floor(r_minutes * 4)::int] END,
    CASE WHEN dose OR r_place < .5 THEN 'in_person' ELSE 'telehealth' END,
    CASE WHEN done AND r_notes < .3 THEN 'Went well; see the shared plan.' END,
    CASE WHEN r_external < .1 THEN 'calcom' END,
    CASE WHEN r_external < .1 THEN 'bk_' || left(replace(id::text, '-', ''), 12) END,
    CASE WHEN kind = 'preparation' THEN (ARRAY['["intentions", "set_and_setting"]',
        '["consent_review", "medical_screening"]'])[1 + floor(r_notes * 2)::int]::json END,
    route,
    CASE route WHEN 'iv' THEN round(weight * 0.5, 2) WHEN 'im' THEN round(weight * 0.75, 2)
               WHEN 'intranasal' THEN CASE WHEN weight > 80 THEN 84 ELSE 56 END
               WHEN 'sublingual' THEN 300 WHEN 'oral' THEN 300 END,
    weight,
    link,
    created_at,
    CASE WHEN done THEN greatest(created_at, least(ends_at, now)) ELSE created_at END,
    CASE WHEN done THEN 2 ELSE 1 END,
    CASE WHEN dose THEN CASE WHEN route = 'intranasal' THEN 'esketamine' ELSE 'ketamine' END END,
    CASE WHEN dose AND done THEN 'L' || lpad(floor(r_transport * 100000)::text, 5, '0') END,
    CASE WHEN dose AND done AND r_vitals < .5 THEN json_build_array(
        json_build_object('taken_at', {_z("starts_at - interval '10 minutes'")},
            'label', 'pre_dose', 'systolic', systolic, 'diastolic', systolic - 40,
            'heart_rate', 58 + floor(r_reading * 35)::int, 'spo2', 95 + floor(r_reading * 6)::int),
        json_build_object('taken_at', {_z("starts_at + interval '40 minutes'")},
            'label', 'peak', 'systolic', systolic + 15, 'diastolic', systolic - 32,
            'heart_rate', 65 + floor(r_reading * 40)::int, 'spo2', 94 + floor(r_reading * 7)::int)
    ) END,
    CASE WHEN dose AND done AND r_event < .08 THEN json_build_array(json_build_object(
        'kind', (ARRAY['nausea', 'dizziness', 'headache', 'anxiety'])[1 + floor(r_event * 50)::int],
        'severity', 'mild', 'onset_at', {_z("starts_at + interval '30 minutes'")}, 'notes', NULL)
    ) END,
    CASE WHEN dose AND done AND r_discharge < .8 THEN starts_at + interval '5 minutes' END,
    CASE WHEN dose AND done AND r_discharge < .8 THEN least(
        starts_at + CASE WHEN r_monitored < .05 THEN 100 + floor(r_monitored * 380)::int
                         ELSE 120 + floor(r_monitored * 31)::int END * interval '1 minute',
        ends_at + interval '1 hour', now) END,
    CASE WHEN dose AND done THEN true
         WHEN dose AND status = 'scheduled' AND r_transport < .7 THEN true END,
    CASE WHEN done AND route = 'intranasal' AND r_rems < .9
              AND starts_at + (1 + floor(r_rems * 5)::int) * interval '1 day' <= now
         THEN starts_at + (1 + floor(r_rems * 5)::int) * interval '1 day' END,
    CASE WHEN dose AND done AND r_vitals < .5 THEN systolic END,
    CASE WHEN dose AND done AND r_vitals < .5 THEN systolic - 40 END
FROM (
    SELECT d.*, d.status = 'completed' AS done, d.kind = 'ketamine' AS dose,
        least(d.starts_at - (2 + floor(d.r_booked * 20)::int) * interval '1 day', d.now)
            AS created_at,
        CASE WHEN d.r_pressure < .05 THEN 145 + floor(d.r_reading * 21)::int
             ELSE 105 + floor(d.r_reading * 34)::int END AS systolic
    FROM draft d
) x
"""  # noqa: S608 - constant SQL

ASSESSMENTS = f"""
INSERT INTO assessments (id, clinic_id, client_id, session_id, instrument, administered_at,
    item_scores, total, severity, probable_ptsd, provisional_dsm5, self_harm_item_positive,
    recorded_by, created_at)
SELECT gen_random_uuid(), clinic_id, client_id, id, '{Instrument.phq9.value}', ends_at,
    array_to_json(items), total, ({_severity_array()})[total + 1], NULL, NULL, items[9] > 0,
    clinician_id, ends_at
FROM (
    SELECT i.*, (SELECT sum(v)::int FROM unnest(i.items) AS v) AS total
    FROM (
        SELECT d.*, ARRAY(
            SELECT CASE WHEN n = 9 THEN (random() < .06)::int
                        ELSE (ARRAY[0, 0, 1, 1, 2, 3])[1 + floor(random() * 6)::int] END
            FROM generate_series(1, 9) AS n WHERE d.id IS NOT NULL ORDER BY n
        ) AS items
        FROM draft d
        WHERE d.assessable AND d.status = 'completed'
          AND d.r_assess < CASE WHEN d.kind = 'preparation' THEN .7 ELSE .5 END
    ) i
) a
"""  # noqa: S608 - constant SQL

STEPS = (
    ("plan", PLAN),
    ("plan doses", PLAN_DOSES),
    ("keep quota", KEEP_QUOTA),
    ("drop unkept doses", DROP_UNKEPT_DOSES),
    ("draft", DRAFT),
    ("trim", TRIM),
    ("unlink trimmed", UNLINK_TRIMMED),
    ("clients", CLIENTS),
    ("sessions", SESSIONS),
    ("assessments", ASSESSMENTS),
)
