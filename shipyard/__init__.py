"""Shipyard: take models from the research lab to production and keep them healthy."""
