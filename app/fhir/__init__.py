"""A FHIR R4 read API (`/fhir/R4`): clients, sessions, vitals and scores as FHIR resources.

The resources are plain dicts built by small pure functions, one module per resource type;
`service` loads the rows, notes every exposed record in the audit trail and maps them.
"""
