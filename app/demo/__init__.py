"""`kap-journey demo`: a clinic filled with realistic, repeatable KAP journeys."""

from app.demo.journeys import fill_demo_clinic

__all__ = ["fill_demo_clinic"]
