"""The models ToolGrade ships or builds offline, importable by serving and training alike.

:mod:`service.models.default_model` builds the untrained tiny Qwen3-architecture checkpoint (the
real Qwen vocabulary, deterministic random weights; what tests use) and picks the model
``toolgrade serve`` and the training jobs start from when none is given: the trained tool caller
that :mod:`service.models.shipped` expands from the compact weights in
``service/models/toolgrade-tool-caller/``. Nothing here reads settings or environment variables:
callers pass the cache directory in, so a training job never reads the server's configuration.
"""
