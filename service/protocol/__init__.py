"""Request and response models of the HTTP API (pydantic only: clients import them without
FastAPI, and without the scoring core)."""
