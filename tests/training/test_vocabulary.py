"""``vocabulary: data``: the restricted LM head equals TRL's full one on a zero-row weight."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from trl.kernels import ChunkedLogProbFunction

from training.config import SFTJobConfig, load_job_config
from training.errors import TrainingJobError
from training.prepare import PrepareReport
from training.sft import run_sft
from training.vocabulary import (
    ACTIVE_ROWS_ATTRIBUTE,
    restrict_vocabulary,
    restricted_head,
    restricted_log_probs,
)

OUTPUTS = ("log_probs", "entropy", "log_sum_sq_probs", "mean_logits", "is_top1")


def zero_row_weight(vocab: int, hidden: int, active: torch.Tensor) -> torch.Tensor:
    weight = torch.randn(vocab, hidden)
    keep = torch.zeros(vocab, dtype=torch.bool)
    keep[active] = True
    weight[~keep] = 0.0
    return weight


@pytest.mark.parametrize(
    ("temperature", "softcap", "scale"),
    [(1.0, None, 1.0), (0.7, 5.0, 1.3)],
    ids=["plain", "softcapped"],
)
def test_restricted_head_matches_trls_full_vocabulary_head(
    temperature: float, softcap: float | None, scale: float
) -> None:
    generator = torch.Generator().manual_seed(0)
    vocab, hidden_size, positions = 1000, 16, 12
    active = torch.randperm(vocab, generator=generator)[:50].sort().values
    torch.manual_seed(1)
    weight = zero_row_weight(vocab, hidden_size, active)
    hidden = torch.randn(positions, hidden_size) * 3
    targets = active[torch.randint(0, 50, (positions,))]
    targets[0] = next(i for i in range(vocab) if i not in set(active.tolist()))  # a zero row
    # Make position 1 predict its target with certainty, so is_top1 is exercised both ways.
    hidden[1] = weight[targets[1]] * 0.5

    full_weight, full_hidden = weight.clone().requires_grad_(), hidden.clone().requires_grad_()
    full = ChunkedLogProbFunction.apply(
        full_hidden, full_weight, None, targets, temperature, 128, softcap, scale, OUTPUTS
    )
    (full[0].sum() + 0.3 * full[1].sum()).backward()
    ours_weight, ours_hidden = weight.clone().requires_grad_(), hidden.clone().requires_grad_()
    ours = restricted_log_probs(
        ours_hidden, ours_weight, active, targets, temperature, softcap, scale, OUTPUTS
    )
    (ours[0].sum() + 0.3 * ours[1].sum()).backward()

    for name, expected, got in zip(OUTPUTS, full, ours, strict=True):
        if name == "is_top1":
            assert got.tolist() == expected.tolist()
            assert got[1].item() is True and got[2:].sum() < positions - 2
        else:
            torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4, msg=name)
    torch.testing.assert_close(ours_hidden.grad, full_hidden.grad, atol=1e-4, rtol=1e-4)
    keep = torch.zeros(vocab, dtype=torch.bool)
    keep[active] = True
    torch.testing.assert_close(ours_weight.grad[keep], full_weight.grad[keep], atol=1e-4, rtol=1e-4)
    # The zero rows are frozen: no gradient reaches them (the full head would move them).
    assert ours_weight.grad[~keep].abs().max().item() == 0.0
    assert full_weight.grad[~keep].abs().max().item() > 0.0


@pytest.mark.parametrize("wanted", OUTPUTS[1:])
def test_each_optional_output_alone_equals_it_computed_with_all(wanted: str) -> None:
    # The restricted head computes the probabilities only for the outputs that need them.
    vocab, hidden_size, positions = 300, 8, 6
    active = torch.arange(0, vocab, 7)
    torch.manual_seed(2)
    weight = zero_row_weight(vocab, hidden_size, active)
    hidden = torch.randn(positions, hidden_size)
    targets = active[torch.randint(0, active.numel(), (positions,))]
    everything = restricted_log_probs(hidden, weight, active, targets, outputs=OUTPUTS)
    alone = restricted_log_probs(hidden, weight, active, targets, outputs=("log_probs", wanted))
    index = OUTPUTS.index(wanted)
    assert all(value is None for i, value in enumerate(alone[1:], 1) if i != index)
    torch.testing.assert_close(alone[0], everything[0])
    torch.testing.assert_close(alone[index], everything[index])


def test_restrict_vocabulary_zeroes_and_marks_the_tied_embedding(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    before = model.get_input_embeddings().weight.detach().clone()
    assert restrict_vocabulary(model, [3, 7, 151645]) == 3
    weight = model.get_output_embeddings().weight
    assert weight is model.get_input_embeddings().weight  # tied: one tensor
    assert getattr(weight, ACTIVE_ROWS_ATTRIBUTE).tolist() == [3, 7, 151645]
    assert torch.equal(weight[[3, 7, 151645]], before[[3, 7, 151645]])
    assert int((weight.abs().sum(dim=1) > 0).sum()) == 3


def test_restricted_head_is_patched_inside_the_block_only() -> None:
    from trl.trainer import utils as trl_utils

    with restricted_head() as wrapper:
        assert trl_utils._ChunkedLogProbFunction is wrapper
        assert wrapper.full is ChunkedLogProbFunction
        # An unmarked weight takes TRL's own head.
        hidden, weight = torch.randn(4, 8), torch.randn(50, 8)
        targets = torch.tensor([1, 2, 3, 4])
        expected = ChunkedLogProbFunction.apply(hidden, weight, None, targets, 1.0, 16)[0]
        actual = wrapper.apply(hidden, weight, None, targets, 1.0, 16)[0]
        torch.testing.assert_close(actual, expected)
    assert trl_utils._ChunkedLogProbFunction is ChunkedLogProbFunction


def test_data_vocabulary_needs_full_finetuning() -> None:
    assert load_job_config(SFTJobConfig, "sft").vocabulary == "full"
    with pytest.raises(TrainingJobError, match="set lora: null") as error:
        load_job_config(SFTJobConfig, "sft", overrides=["vocabulary=data"])
    assert error.value.label == "config:invalid"
    config = load_job_config(SFTJobConfig, "sft", overrides=["vocabulary=data", "lora=null"])
    assert (config.vocabulary, config.lora) == ("data", None)


def test_sft_with_the_data_vocabulary_trains_only_the_data_rows(
    tmp_path: Path, tiny_model_dir: Path, synth_prepared: tuple[Path, PrepareReport]
) -> None:
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    prepared = synth_prepared[0]
    result = run_sft(
        SFTJobConfig(
            model=str(tiny_model_dir),
            train_file=prepared / "trl" / "train.jsonl",
            output_dir=tmp_path / "sft",
            lora=None,
            vocabulary="data",
            learning_rate=1e-3,
            per_device_train_batch_size=2,
            gradient_accumulation_steps=1,
            max_steps=3,
            logging_steps=1,
            gradient_checkpointing=False,
        )
    )
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    rows = [json.loads(line) for line in (prepared / "trl" / "train.jsonl").open()]
    used = {
        token
        for row in rows
        for token in tokenizer.apply_chat_template(
            row["messages"], tools=json.loads(row["tools"]), tokenize=True, return_dict=False
        )
    }
    used |= set(tokenizer.added_tokens_decoder)
    assert result.trained_vocabulary == len(used)
    before = load_file(str(tiny_model_dir / "model.safetensors"))["model.embed_tokens.weight"]
    after = load_file(str(tmp_path / "sft" / "model.safetensors"))["model.embed_tokens.weight"]
    nonzero = set((after.abs().sum(dim=1) > 0).nonzero().flatten().tolist())
    assert nonzero == used
    trained = set((after != before).any(dim=1).nonzero().flatten().tolist()) & used
    assert len(trained) > len(used) // 2 and result.last_loss is not None
    # The job patched TRL's head for its steps only.
    from trl.trainer import utils as trl_utils

    assert trl_utils._ChunkedLogProbFunction is ChunkedLogProbFunction
