"""The durable job queue the worker serves: outbound webhook deliveries, inbound bookings, and the
recurring tasks (window scan, clean-ups). See app/jobs/queue.py."""
