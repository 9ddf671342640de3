"""Evaluation runs: a dataset through any OpenAI-compatible endpoint, scored by the core.

``toolgrade eval run`` and ``toolgrade eval compare`` are thin wrappers over this package:

* :mod:`~clients.evaluation.datasets` — xLAM rows, BFCL question/answer pairs, prepared splits;
* :mod:`~clients.evaluation.endpoint` — item → chat request (tools as OpenAI functions);
* :mod:`~clients.evaluation.runner` — bounded-concurrency requests with retries, then scoring;
* :mod:`~clients.evaluation.report` and :mod:`~clients.evaluation.charts` — the files written;
* :mod:`~clients.evaluation.compare` — paired deltas with significance between two runs;
* :mod:`~clients.evaluation.pipeline` — one run end to end.

Submodules import ``openai`` and ``matplotlib``: import them where they are used, not at the
CLI's start-up.
"""
