"""Pure scoring core: parsing, schema normalisation, matching, metrics and rewards.

Nothing in this package may import fastapi, starlette, torch, vllm or transformers: routes,
the trainer's local reward and the eval runner all call these functions, so a number means the
same thing everywhere.
"""
