"""Tier-0 site-reliability platform: the Django project package."""
