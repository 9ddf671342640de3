"""The shipped model's recipe: prompts as the service renders them, a compact-vocabulary loss equal
to the full model's, and packing that expands to a checkpoint answering like the compact model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from training.synth import SynthOptions, generate_rows
from training.tool_caller import (
    FULL_VOCAB_SIZE,
    CompactVocabulary,
    ModelShape,
    Recipe,
    collate,
    compact_config,
    compact_loss,
    greedy_answer,
    pack,
    render_example,
    save_compact,
    warm_start,
)

SMALL = ModelShape(hidden_size=64, num_layers=2, num_heads=2, num_kv_heads=1, intermediate_size=96)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def examples(tokenizer) -> list[tuple[list[int], list[int]]]:
    rows = generate_rows(SynthOptions(count=12, seed=3))
    return [render_example(row, tokenizer, None) for row in rows]


def test_prompts_are_rendered_exactly_as_the_served_eval_sends_them(tokenizer) -> None:
    from clients.evaluation.datasets import xlam_items
    from clients.evaluation.endpoint import build_chat_request
    from service.serving.tool_choice import request_tools

    for row in generate_rows(SynthOptions(count=40, seed=11)):
        prompt, answer = render_example(row, tokenizer, None)
        item = xlam_items([row])[0]
        request = build_chat_request(item.messages, item.tools)
        served = tokenizer.apply_chat_template(
            request.messages,
            tools=request_tools(request.tools).template,
            add_generation_prompt=True,
            tokenize=False,
        )
        assert tokenizer.decode(prompt) == served
        assert tokenizer.decode(answer).endswith("<|im_end|>")


def _small_model(vocab: CompactVocabulary) -> torch.nn.Module:
    from transformers import Qwen3ForCausalLM

    torch.manual_seed(0)
    model = Qwen3ForCausalLM(compact_config(SMALL, vocab.size + 1))
    with torch.no_grad():
        model.get_input_embeddings().weight[vocab.size] = 0.0
        # Larger weights than the initialisation: greedy answers that differ between prompts.
        for parameter in model.parameters():
            parameter.mul_(8.0)
        model.get_input_embeddings().weight[vocab.size] = 0.0
    return model.eval()


def test_the_compact_loss_is_the_full_vocabulary_loss(examples) -> None:
    from transformers import Qwen3ForCausalLM

    vocab = CompactVocabulary.from_examples(examples)
    model = _small_model(vocab)
    batch = collate(examples, [0, 1, 2], vocab)
    compact = compact_loss(model, batch, vocab.rest_logit_offset)

    full = Qwen3ForCausalLM(compact_config(SMALL, FULL_VOCAB_SIZE)).eval()
    state = {k: v for k, v in model.state_dict().items() if "embed_tokens" not in k}
    state.pop("lm_head.weight", None)
    full.load_state_dict(state, strict=False)
    with torch.no_grad():
        full.get_input_embeddings().weight.zero_()
        full.get_input_embeddings().weight[torch.tensor(vocab.kept)] = (
            model.get_input_embeddings().weight[: vocab.size]
        )
    ids, mask, score, _ = batch
    full_ids = vocab.to_full[ids]
    logits = full(input_ids=full_ids, attention_mask=mask).logits[score]
    expected = torch.nn.functional.cross_entropy(logits, torch.roll(full_ids, -1, dims=1)[score])
    assert math.isclose(compact.item(), expected.item(), rel_tol=1e-5)


def test_a_packed_model_expands_to_a_checkpoint_answering_like_the_compact_one(
    examples, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM

    from service.models.shipped import ensure_shipped_model, read_manifest

    vocab = CompactVocabulary.from_examples(examples)
    model = _small_model(vocab)
    recipe = Recipe(shape=SMALL, rows=12, data_seed=3)
    save_compact(model, vocab, recipe, tmp_path / "compact.pt", 0, 0.0, [1.0])
    shipped = tmp_path / "shipped"
    manifest = pack(tmp_path / "compact.pt", shipped, command="test", commit=None)
    assert manifest == read_manifest(shipped)
    expanded = ensure_shipped_model(tmp_path / "cache", shipped)
    full = AutoModelForCausalLM.from_pretrained(expanded, dtype=torch.float32).eval()
    # float16 storage: compare with the compact model's parameters rounded the same way (not
    # its buffers: the rotary frequencies are not stored)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(parameter.half().float())
    answers = set()
    for prompt, _ in examples[:4]:
        compact_answer = greedy_answer(model, vocab, prompt, 8)
        output = full.generate(torch.tensor([prompt]), max_new_tokens=8, do_sample=False)
        full_answer = output[0, len(prompt) :].tolist()
        assert full_answer[: len(compact_answer)] == compact_answer
        answers.add(tuple(compact_answer))
    assert len(answers) > 1  # the comparison is not between constant outputs


def test_a_warm_start_keeps_each_learnt_row_under_its_token_id(examples, tmp_path: Path) -> None:
    earlier_vocab = CompactVocabulary.from_examples(examples[:4])
    earlier = _small_model(earlier_vocab)
    with torch.no_grad():  # weights no fresh model has, so a skipped copy cannot pass
        for parameter in earlier.parameters():
            parameter.add_(0.5)
        earlier.get_input_embeddings().weight[earlier_vocab.size] = 0.0
    checkpoint = tmp_path / "compact.pt"
    recipe = Recipe(shape=SMALL)
    save_compact(earlier, earlier_vocab, recipe, checkpoint, 7, 12.5, [3.0, 2.0])

    later_vocab = CompactVocabulary.from_examples(examples)  # more rows, new compact ids
    assert later_vocab.size > earlier_vocab.size
    later = _small_model(later_vocab)
    history = warm_start(later, later_vocab, checkpoint)

    assert [run["step"] for run in history] == [7]
    old_rows = earlier.get_input_embeddings().weight
    new_rows = later.get_input_embeddings().weight
    for token in earlier_vocab.kept:
        old = int(earlier_vocab.to_compact[token])
        new = int(later_vocab.to_compact[token])
        assert torch.equal(new_rows[new], old_rows[old])
    assert torch.count_nonzero(new_rows[later_vocab.size]) == 0  # the zero row stays zero
    norm = "model.layers.0.input_layernorm.weight"
    assert torch.equal(later.state_dict()[norm], earlier.state_dict()[norm])
    projection = "model.layers.1.mlp.up_proj.weight"
    assert torch.equal(later.state_dict()[projection], earlier.state_dict()[projection])


def test_a_warm_start_from_another_shape_is_refused(examples, tmp_path: Path) -> None:
    vocab = CompactVocabulary.from_examples(examples)
    checkpoint = tmp_path / "compact.pt"
    save_compact(_small_model(vocab), vocab, Recipe(shape=SMALL), checkpoint, 1, 1.0, [1.0])
    wider = ModelShape(**{**SMALL.__dict__, "intermediate_size": 128})
    model = _model_of_shape(wider, vocab)
    with pytest.raises(ValueError, match="training:init_shape_mismatch"):
        warm_start(model, vocab, checkpoint)


def _model_of_shape(shape: ModelShape, vocab: CompactVocabulary):
    from transformers import Qwen3ForCausalLM

    return Qwen3ForCausalLM(compact_config(shape, vocab.size + 1))
