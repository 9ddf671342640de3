"""Doctest collection of ``clients``: the vLLM plugin module needs vLLM importable."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("vllm") else ["vllm_tool_parser.py"]
