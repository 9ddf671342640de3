"""Benchmarks that print side-by-side ratios from one run; run each as ``python -m bench.<name>``
from the repository root."""
