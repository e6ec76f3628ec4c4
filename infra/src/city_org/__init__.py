"""city_org."""
