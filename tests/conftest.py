"""Shared fixtures: live servers on loopback and the tiny models the project builds offline.

They live in ``tests/fixtures/`` as plugins so each area owns its own file.
"""

pytest_plugins = ["tests.fixtures.servers", "tests.fixtures.models"]
