"""Calendar feeds: a clinician's sessions as iCalendar, behind a revocable per-staff token."""
