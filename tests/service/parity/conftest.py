"""The stock vLLM servers of :mod:`tests.service.parity.stock_vllm`, as session fixtures."""

from tests.service.parity.stock_vllm import stock_vllm_servers

__all__ = ["stock_vllm_servers"]
