"""Client self-report links: a one-time, expiring link to a plain HTML PHQ-9, GAD-7 or PCL-5."""
