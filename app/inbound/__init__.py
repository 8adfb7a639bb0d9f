"""Inbound scheduling: bookings from Cal.com, Calendly and a clinic's scheduler become sessions."""
