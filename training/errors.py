"""Errors that stop a training job, each with an ``area:reason`` label.

A job error is the caller's problem (a missing token, a file in the way, a reward service that
cannot be reached): the CLI prints the message and the label and exits non-zero, no traceback.
"""

from __future__ import annotations


class TrainingJobError(Exception):
    """A training job cannot go on; ``label`` reads ``area:reason`` (``prepare:hub_auth``, ...)."""

    def __init__(self, message: str, *, label: str) -> None:
        super().__init__(message)
        self.message = message
        self.label = label

    def __str__(self) -> str:
        return f"{self.message} [{self.label}]"
