"""ToolGrade: evaluation and reward service for LLM function calling."""

__version__ = "0.1.0"
