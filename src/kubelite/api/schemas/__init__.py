"""Schema data for the served kinds (see kubelite.api.schema for the DSL and its uses)."""
