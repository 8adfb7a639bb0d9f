"""The FHIR services: records (a patient's everything, Patient and Consent reads), reads by id
of the other types, and searches. They decide; app.fhir.repository runs the SQL."""
