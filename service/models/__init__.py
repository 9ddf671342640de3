"""The models ToolGrade ships or builds offline, importable by serving and training alike.

:mod:`service.models.default_model` builds the embedded default model (a tiny Qwen3-architecture
checkpoint with the real Qwen vocabulary) and picks the model ``toolgrade serve`` and the training
jobs start from when none is given. Nothing here reads settings or environment variables: callers
pass the cache directory in, so a training job never reads the server's configuration.
"""
