"""Shared pytest configuration. Area fixtures live in each tests/<area>/conftest.py."""

import os

from hypothesis import settings

# The suite is deterministic: property tests draw the same examples on every run (a CI run must not
# fail on a new random draw). `HYPOTHESIS_PROFILE=explore` draws fresh random examples, to hunt.
settings.register_profile("deterministic", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
