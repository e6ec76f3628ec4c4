"""Pure domain logic: no framework, no database imports."""
