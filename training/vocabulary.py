"""Train only the vocabulary the data uses (``vocabulary: data``), with an exact loss.

A model trained *from scratch* on a narrow corpus (the CPU demo) sees about a thousand of
Qwen's 151,936 tokens, yet every SFT step projects each labelled position onto the whole vocabulary:
on a CPU that projection (forward and both backward products) is almost the entire step. With
``vocabulary: data`` the output-embedding rows of the tokens that never occur in the training
data are set to zero and stay there. A zero row has a logit of exactly 0 whatever the hidden
state, so the softmax over the full vocabulary equals a softmax over the data's tokens plus one
constant column, ``log(number of zero rows)``, that stands for all the others. The loss, the
log-probabilities and the gradients of every trained weight are the full-vocabulary ones (the
zero rows are frozen: the full head would move them), computed at the cost of the small
vocabulary; the saved model is an ordinary checkpoint whose unused tokens score 0.

The switch is TRL's fused LM head: inside :func:`restricted_head` the chunked log-probability
function TRL calls is wrapped so that an output embedding marked by :func:`restrict_vocabulary`
takes the small path; every other weight takes TRL's own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from training.runtime import patch_trl_private

ACTIVE_ROWS_ATTRIBUTE = "_toolgrade_active_rows"


def data_vocabulary(token_ids: Iterable[Sequence[int]], always: Iterable[int] = ()) -> list[int]:
    """The sorted token ids that occur in ``token_ids`` (the tokenized rows) or in ``always``.

    Example:
        >>> data_vocabulary([[5, 3, 5], [9]], always=[1])
        [1, 3, 5, 9]
    """
    seen = set(always)
    for ids in token_ids:
        seen.update(ids)
    return sorted(seen)


def restrict_vocabulary(model: Any, token_ids: Sequence[int]) -> int:
    """Zero the output-embedding rows of every token not in ``token_ids`` and mark the weight.

    With tied embeddings the input rows of those tokens are zeroed too (the same tensor), which
    is harmless: they never occur in the training inputs. Rows outside ``token_ids`` get no
    gradient from the restricted head, so they stay zero through training and in the saved
    model.

    Returns:
        The number of rows kept.
    """
    import torch

    weight = model.get_output_embeddings().weight
    keep = torch.zeros(weight.shape[0], dtype=torch.bool)
    keep[torch.as_tensor(list(token_ids), dtype=torch.long)] = True
    with torch.no_grad():
        weight[~keep.to(weight.device)] = 0.0
    setattr(weight, ACTIVE_ROWS_ATTRIBUTE, keep.nonzero().flatten().to(weight.device))
    return int(keep.sum())


def restricted_log_probs(
    hidden: Any,
    weight: Any,
    active_rows: Any,
    targets: Any,
    temperature: float = 1.0,
    final_logit_softcapping: float | None = None,
    logit_scale: float = 1.0,
    outputs: tuple[str, ...] = ("log_probs",),
) -> tuple[Any, Any, Any, Any, Any]:
    """TRL's fused-head outputs for a weight whose rows outside ``active_rows`` are all zero.

    Same contract as ``trl.kernels.ChunkedLogProbFunction`` without a bias: per target,
    ``(log_probs, entropy, log_sum_sq_probs, mean_logits, is_top1)``, the optional ones
    ``None`` unless named in ``outputs``. Differentiable through plain torch operations, so the
    inactive rows receive no gradient.

    Args:
        hidden: ``[N, H]`` hidden states of the scored positions.
        weight: ``[V, H]`` output embedding (zero outside ``active_rows``).
        active_rows: Sorted ids of the rows that may be non-zero.
        targets: ``[N]`` next-token ids.
        temperature, final_logit_softcapping, logit_scale: As in TRL's fused head.
        outputs: Which optional per-token fields to compute.

    Returns:
        The five per-token tensors (or ``None``) in TRL's order.
    """
    import torch

    vocab = weight.shape[0]
    inactive = vocab - active_rows.numel()
    logits = hidden @ weight.index_select(0, active_rows).t().to(hidden.dtype)
    logits = logits.float() * logit_scale
    if final_logit_softcapping is not None:
        logits = final_logit_softcapping * torch.tanh(logits / final_logit_softcapping)
    logits = logits / temperature
    # Every inactive token has logit 0 (softcapping and scaling keep 0 at 0): together they add
    # ``inactive * exp(0)`` to the partition function, i.e. one column of logit log(inactive).
    rest = torch.full(
        (logits.shape[0], 1), math.log(inactive) if inactive else -math.inf, device=logits.device
    )
    log_z = torch.logsumexp(torch.cat([logits, rest], dim=1), dim=1)
    position = torch.full((vocab,), -1, dtype=torch.long, device=logits.device)
    position[active_rows] = torch.arange(active_rows.numel(), device=logits.device)
    target_position = position[targets]
    is_active = target_position >= 0
    target_logit = torch.where(
        is_active,
        logits.gather(1, target_position.clamp(min=0).unsqueeze(1)).squeeze(1),
        torch.zeros_like(log_z),
    )
    log_probs = target_logit - log_z
    entropy = log_sum_sq_probs = mean_logits = is_top1 = None
    if "entropy" in outputs or "log_sum_sq_probs" in outputs:
        probs = torch.exp(logits - log_z.unsqueeze(1))
    if "entropy" in outputs:
        entropy = log_z - (probs * logits).sum(dim=1)  # inactive logits add 0 to E[z]
    with torch.no_grad():
        if "log_sum_sq_probs" in outputs:
            rest_prob = torch.exp(-log_z) if inactive else torch.zeros_like(log_z)  # each inactive
            log_sum_sq_probs = torch.log((probs * probs).sum(dim=1) + inactive * rest_prob**2)
        if "mean_logits" in outputs:
            mean_logits = logits.sum(dim=1) / vocab
        if "is_top1" in outputs:
            is_top1 = _is_first_maximum(logits, active_rows, targets, target_logit, inactive > 0)
    return log_probs, entropy, log_sum_sq_probs, mean_logits, is_top1


def _is_first_maximum(
    logits: Any, active_rows: Any, targets: Any, target_logit: Any, has_inactive: bool
) -> Any:
    """Whether each target is the first arg-max of the full vocabulary, as TRL counts it.

    The target's logit must reach every logit and exceed every logit of a smaller token id; the
    inactive tokens all score 0.
    """
    import torch

    no_logit = torch.full_like(target_logit, -math.inf)
    zero = torch.zeros_like(target_logit)
    best = logits.max(dim=1).values
    if has_inactive:
        best = torch.maximum(best, zero)
    earlier = active_rows.unsqueeze(0) < targets.unsqueeze(1)
    best_before = logits.masked_fill(~earlier, -math.inf).max(dim=1).values
    inactive_before = targets - torch.searchsorted(active_rows, targets) > 0
    best_before = torch.maximum(best_before, torch.where(inactive_before, zero, no_logit))
    return (target_logit >= best) & (target_logit > best_before)


class _RestrictedOrFullLogProbs:
    """Stands in for TRL's ``ChunkedLogProbFunction``: restricted path for marked weights."""

    def __init__(self, full: Any) -> None:
        self.full = full

    def apply(
        self,
        hidden: Any,
        weight: Any,
        bias: Any,
        targets: Any,
        temperature: float,
        chunk_size: int,
        final_logit_softcapping: float | None = None,
        logit_scale: float = 1.0,
        outputs: tuple[str, ...] = ("log_probs",),
    ) -> Any:
        active_rows = getattr(weight, ACTIVE_ROWS_ATTRIBUTE, None)
        if active_rows is None or bias is not None:
            return self.full.apply(
                hidden,
                weight,
                bias,
                targets,
                temperature,
                chunk_size,
                final_logit_softcapping,
                logit_scale,
                outputs,
            )
        return restricted_log_probs(
            hidden,
            weight,
            active_rows,
            targets,
            temperature,
            final_logit_softcapping,
            logit_scale,
            outputs,
        )


def restricted_head() -> AbstractContextManager[Any]:
    """Inside the block, TRL's fused LM head takes :func:`restricted_log_probs` for marked weights.

    The switch is TRL's private ``_ChunkedLogProbFunction``, replaced only inside the block after
    the installed TRL release is checked (see :func:`training.runtime.patch_trl_private`): a TRL
    whose head changed fails loudly instead of silently training the rows this module freezes.
    """
    return patch_trl_private("_ChunkedLogProbFunction", _RestrictedOrFullLogProbs)
