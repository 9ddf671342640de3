"""Train the shipped default model: a small Qwen3 that calls tools, on the data's vocabulary only.

The model learns from ``training.synth`` rows rendered exactly as the service renders a chat
request (the evaluation client's request body, the server's tool normalisation, the Qwen3 chat
template), so what it sees in training is what ``toolgrade serve`` feeds it.

Training runs on a *compact* vocabulary: the ≈1,000 token ids the rendered data uses, plus one
row that stands for every other token. In the full 151,936-token model every unused token has a
zero embedding row, hence a logit of exactly 0; the compact model keeps one such zero row (id
``K``, frozen) and adds ``log(151,936 - K)`` to its logit in the loss, so the loss and every
gradient equal the full model's, while each step costs a ≈1,000-row head and embedding instead
of a 151,936-row one (and AdamW updates ≈0.2 M embedding parameters, not 19 M). Expanding puts
row ``i`` back at token id ``kept[i]`` and leaves every other row zero: an ordinary Qwen3
checkpoint whose greedy output equals the compact model's.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from training.synth import DEFAULT_SHAPE_WEIGHTS, NO_CALL_RESPONSE, SynthOptions, iter_rows

# (prompt token ids, answer token ids)
Example = tuple[list[int], list[int]]

FULL_VOCAB_SIZE = 151_936
QWEN3_ADDED_TOKEN_IDS = tuple(range(151_643, 151_669))
ENDOFTEXT_ID = 151_643
IM_END_ID = 151_645


@dataclass(frozen=True)
class ModelShape:
    """The Qwen3 shape trained (head_dim 32: the smallest vLLM's CPU attention supports)."""

    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 384
    head_dim: int = 32


@dataclass
class Recipe:
    """Everything a run depends on (recorded in the manifest); the defaults are the shipped run."""

    shape: ModelShape = field(default_factory=ModelShape)
    data_seed: int = 12
    rows: int = 30_000
    max_distractors: int = 3
    short_share: float = 0.5  # rows drawn with at most one distractor: shorter prompts, more steps
    system_prompt_share: float = 0.2
    batch_size: int = 8
    learning_rate: float = 2.5e-3
    min_lr_ratio: float = 0.05
    warmup_s: float = 120.0
    weight_decay: float = 0.01
    seconds: float = 4800.0
    init_seed: int = 0
    no_call_share: float = DEFAULT_SHAPE_WEIGHTS["no_call"]
    # A compact checkpoint to continue from ("" = random init); its rows are matched by token id.
    init_from: str = ""


def render_example(row: Mapping[str, Any], tokenizer: Any, system_prompt: str | None) -> Example:
    """Token ids of the prompt the service renders for ``row`` and of the answer to learn.

    The prompt is what ``toolgrade eval run`` sends for an xLAM row (optionally after a system
    turn), rendered as the server renders it; the answer is what the chat template writes for
    the reference assistant turn (calls, or the row's plain reply), up to ``<|im_end|>``.
    """
    from service.core.schema import normalise_tools, openai_tool

    query = row["query"]
    declared = json.loads(row["tools"]) if isinstance(row["tools"], str) else row["tools"]
    messages: list[dict[str, Any]] = [{"role": "user", "content": query}]
    if system_prompt:
        messages.insert(0, {"role": "system", "content": system_prompt})
    # The tools as the service hands them to the chat template: normalised by the core.
    tools = [openai_tool(spec) for spec in normalise_tools(list(declared)).values()]
    prompt = tokenizer.apply_chat_template(
        messages, tools=tools, add_generation_prompt=True, tokenize=False
    )
    answers = json.loads(row["answers"]) if isinstance(row["answers"], str) else row["answers"]
    assistant: dict[str, Any] = {
        "role": "assistant",
        "content": "" if answers else row.get("response", NO_CALL_RESPONSE),
    }
    if answers:
        assistant["tool_calls"] = [
            {"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in answers
        ]
    full = tokenizer.apply_chat_template([*messages, assistant], tools=tools, tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("the chat template renders the prompt differently inside a conversation")
    answer = full[len(prompt) :].rstrip("\n")
    encode = tokenizer
    prompt_ids = encode(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = encode(answer, add_special_tokens=False)["input_ids"]
    return prompt_ids, answer_ids


def render_rows(
    rows: Iterable[Mapping[str, Any]],
    tokenizer: Any,
    system_prompt: str,
    system_share: float,
    seed: int,
) -> list[Example]:
    """:func:`render_example` for each row; a seeded ``system_share`` of them get a system turn."""
    rng = random.Random(seed)
    return [
        render_example(row, tokenizer, system_prompt if rng.random() < system_share else None)
        for row in rows
    ]


class CompactVocabulary:
    """Full token id <-> compact id; compact id ``size`` is the shared zero row."""

    def __init__(self, kept: Sequence[int]) -> None:
        import torch

        self.kept = sorted(set(kept))
        self.size = len(self.kept)
        self.to_compact = torch.full((FULL_VOCAB_SIZE,), self.size, dtype=torch.long)
        self.to_compact[torch.tensor(self.kept)] = torch.arange(self.size)
        self.to_full = torch.tensor([*self.kept, ENDOFTEXT_ID], dtype=torch.long)

    @classmethod
    def from_examples(cls, examples: Iterable[Example]) -> CompactVocabulary:
        """Every token id the examples use, and Qwen3's added tokens."""
        seen = set(QWEN3_ADDED_TOKEN_IDS)
        for prompt, answer in examples:
            seen.update(prompt)
            seen.update(answer)
        return cls(sorted(seen))

    @property
    def rest_logit_offset(self) -> float:
        """``log`` of how many full-vocabulary tokens the zero row stands for."""
        return math.log(FULL_VOCAB_SIZE - self.size)


def compact_config(shape: ModelShape, vocabulary_rows: int) -> Any:
    """The Qwen3 config of the compact model: the shipped shape, ``vocabulary_rows`` rows."""
    from service.models.default_model import qwen3_config

    config = qwen3_config(**asdict(shape), vocab_size=vocabulary_rows)
    # Qwen's special ids lie outside the compact vocabulary.
    config.pad_token_id = config.bos_token_id = config.eos_token_id = None
    return config


def make_batches(
    examples: Sequence[Example], batch_size: int, rng: random.Random
) -> list[list[int]]:
    """Batches of example indices of similar length (little padding), in random order."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    batches = []
    group = batch_size * 64
    for start in range(0, len(order), group):
        chunk = sorted(order[start : start + group], key=lambda i: _length(examples[i]))
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def _length(example: Example) -> int:
    return len(example[0]) + len(example[1])


def collate(
    examples: Sequence[Example], indices: Sequence[int], vocab: CompactVocabulary
) -> tuple[Any, Any, Any, Any]:
    """Right-padded compact input ids, attention mask, and (positions, next-token targets)."""
    import torch

    length = max(_length(examples[i]) for i in indices)
    pad = int(vocab.to_compact[ENDOFTEXT_ID])
    ids = torch.full((len(indices), length), pad, dtype=torch.long)
    mask = torch.zeros((len(indices), length), dtype=torch.long)
    score = torch.zeros((len(indices), length), dtype=torch.bool)
    for row, i in enumerate(indices):
        prompt, answer = examples[i]
        full = torch.tensor(prompt + answer)
        ids[row, : len(full)] = vocab.to_compact[full]
        mask[row, : len(full)] = 1
        # position p predicts token p + 1: score the positions before each answer token
        score[row, len(prompt) - 1 : len(full) - 1] = True
    targets = torch.roll(ids, -1, dims=1)[score]
    return ids, mask, score, targets


def compact_loss(model: Any, batch: tuple[Any, Any, Any, Any], rest_offset: float) -> Any:
    """Mean next-token cross-entropy over answer tokens, exact for the full vocabulary."""
    import torch

    ids, mask, score, targets = batch
    hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state[score]
    weight = model.get_output_embeddings().weight
    logits = hidden @ weight.t()
    offset = torch.zeros(logits.shape[1])
    offset[-1] = rest_offset
    return torch.nn.functional.cross_entropy(logits + offset, targets)


def train(recipe: Recipe, out_dir: Path, tokenizer_dir: Path, log: Any = print) -> dict[str, Any]:
    """Train for ``recipe.seconds`` of wall time, checkpointing to ``out_dir/compact.pt``."""
    import torch
    from transformers import AutoTokenizer, Qwen3ForCausalLM

    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    examples = training_examples(recipe, tokenizer, out_dir)
    log(f"{len(examples)} examples rendered in {time.monotonic() - started:.0f}s")
    vocab = CompactVocabulary.from_examples(examples)
    torch.manual_seed(recipe.init_seed)
    model: Any = Qwen3ForCausalLM(compact_config(recipe.shape, vocab.size + 1))
    zero_row = vocab.size
    with torch.no_grad():
        model.get_input_embeddings().weight[zero_row] = 0.0
    # The zero row stands for every unused token: it must stay exactly zero.
    model.get_input_embeddings().weight.register_hook(
        lambda grad: grad.index_fill(0, torch.tensor([zero_row]), 0.0)
    )
    history = warm_start(model, vocab, Path(recipe.init_from)) if recipe.init_from else []
    if history:
        log(f"continuing from {recipe.init_from} (step {history[-1]['step']})")
    matrices = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    others = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    optimizer = torch.optim.AdamW(
        [
            {"params": matrices, "weight_decay": recipe.weight_decay},
            {"params": others, "weight_decay": 0.0},
        ],
        lr=recipe.learning_rate,
        betas=(0.9, 0.95),
    )
    rng = random.Random(recipe.init_seed)
    step, epoch, losses = 0, 0, []
    train_started = time.monotonic()
    last_save = train_started
    batches: list[list[int]] = []
    while True:
        elapsed = time.monotonic() - train_started
        if elapsed >= recipe.seconds:
            break
        if not batches:
            batches = make_batches(examples, recipe.batch_size, rng)
            epoch += 1
        lr = _learning_rate(recipe, elapsed)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = compact_loss(model, collate(examples, batches.pop(), vocab), vocab.rest_logit_offset)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        losses.append(loss.item())
        if step % 50 == 0:
            log(
                f"step {step} epoch {epoch} t={elapsed:.0f}s lr={lr:.2e} loss={_recent(losses):.4f}"
            )
        if time.monotonic() - last_save > 300:
            save_compact(
                model, vocab, recipe, out_dir / "compact.pt", step, elapsed, losses, history
            )
            last_save = time.monotonic()
    elapsed = time.monotonic() - train_started
    save_compact(model, vocab, recipe, out_dir / "compact.pt", step, elapsed, losses, history)
    log(f"done: {step} steps in {elapsed:.0f}s, loss {losses[0]:.3f} -> {_recent(losses):.4f}")
    return {"steps": step, "seconds": elapsed}


def warm_start(model: Any, vocab: CompactVocabulary, checkpoint: Path) -> list[dict[str, Any]]:
    """Load a compact checkpoint's weights into ``model``; returns the runs that made it.

    Every tensor but the embedding must have the same shape (else ``training:init_shape_mismatch``);
    embedding rows are copied by token id, so a run on new data (whose vocabulary differs) keeps
    what the earlier run learnt for every token both share. Tokens new to this run keep their
    random initialisation; the shared zero row stays zero.
    """
    import torch

    saved = torch.load(checkpoint, weights_only=False)
    state = dict(saved["state_dict"])
    state.pop("lm_head.weight", None)  # tied to the embedding
    old_embedding = state.pop(EMBEDDING_KEY)
    current = model.state_dict()
    for name, tensor in state.items():
        if name not in current or current[name].shape != tensor.shape:
            raise ValueError(f"training:init_shape_mismatch: {name} in {checkpoint}")
    model.load_state_dict(state, strict=False)
    embedding = model.get_input_embeddings().weight
    old_ids = torch.tensor(saved["kept"])
    new_rows = vocab.to_compact[old_ids]
    shared = new_rows < vocab.size
    with torch.no_grad():
        embedding[new_rows[shared]] = old_embedding[: len(old_ids)][shared].to(embedding.dtype)
    earlier = list(saved.get("history", []))
    return [
        *earlier,
        {"recipe": saved["recipe"], "step": saved["step"], "seconds": saved["seconds"]},
    ]


EMBEDDING_KEY = "model.embed_tokens.weight"


def training_examples(recipe: Recipe, tokenizer: Any, cache_dir: Path) -> list[Example]:
    """The recipe's rows rendered and tokenized (cached in ``cache_dir``: minutes on a CPU).

    ``1 - short_share`` of the rows offer up to ``max_distractors`` extra tools (as
    ``toolgrade synth`` does by default), the rest at most one: shorter prompts, more steps.
    """
    import torch

    from training.config import DEFAULT_SYSTEM_PROMPT

    name = f"examples-{recipe.data_seed}-{recipe.rows}-{recipe.max_distractors}"
    if recipe.no_call_share != DEFAULT_SHAPE_WEIGHTS["no_call"]:
        name += f"-nc{recipe.no_call_share}"
    cache = cache_dir / f"{name}-{recipe.short_share}.pt"
    if cache.is_file():
        examples: list[Example] = torch.load(cache)
        return examples
    short = round(recipe.rows * recipe.short_share)
    weights = shape_weights(recipe.no_call_share)
    rows = [
        *iter_rows(
            SynthOptions(
                count=recipe.rows - short,
                seed=recipe.data_seed,
                shape_weights=weights,
                max_distractors=recipe.max_distractors,
            )
        ),
        *iter_rows(
            SynthOptions(
                count=short, seed=recipe.data_seed + 1, shape_weights=weights, max_distractors=1
            )
        ),
    ]
    examples = render_rows(
        rows, tokenizer, DEFAULT_SYSTEM_PROMPT, recipe.system_prompt_share, recipe.data_seed
    )
    torch.save(examples, cache)
    return examples


def shape_weights(no_call_share: float) -> dict[str, float]:
    """``toolgrade synth``'s row-shape mix with ``no_call_share`` no-call rows, the rest scaled.

    Example:
        >>> {k: round(v, 3) for k, v in shape_weights(0.3).items()}
        {'simple': 0.453, 'parallel': 0.124, 'parallel_multiple': 0.124, 'no_call': 0.3}
    """
    if not 0.0 <= no_call_share < 1.0:
        raise ValueError(f"training:bad_no_call_share: {no_call_share} is not in [0, 1)")
    calls = {k: v for k, v in DEFAULT_SHAPE_WEIGHTS.items() if k != "no_call"}
    scale = (1.0 - no_call_share) / sum(calls.values())
    return {**{k: v * scale for k, v in calls.items()}, "no_call": no_call_share}


def _recent(losses: Sequence[float], window: int = 50) -> float:
    tail = losses[-window:]
    return sum(tail) / len(tail) if tail else math.nan


def _learning_rate(recipe: Recipe, elapsed: float) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio`` over the time budget.

    Example:
        >>> recipe = Recipe(learning_rate=1e-3, warmup_s=10, seconds=110, min_lr_ratio=0.1)
        >>> [round(_learning_rate(recipe, t), 6) for t in (5, 10, 60, 110)]
        [0.0005, 0.001, 0.00055, 0.0001]
    """
    if elapsed < recipe.warmup_s:
        return recipe.learning_rate * max(elapsed, 1.0) / recipe.warmup_s
    progress = min(1.0, (elapsed - recipe.warmup_s) / max(1.0, recipe.seconds - recipe.warmup_s))
    floor = recipe.min_lr_ratio
    return recipe.learning_rate * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def save_compact(
    model: Any,
    vocab: CompactVocabulary,
    recipe: Recipe,
    path: Path,
    step: int,
    elapsed: float,
    losses: Sequence[float],
    history: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Save the compact model, its vocabulary, recipe and progress (atomically).

    ``history`` lists the earlier runs this one continued (see :func:`warm_start`).
    """
    import torch

    staging = path.with_suffix(".tmp")
    torch.save(
        {
            "state_dict": model.state_dict(),
            "kept": vocab.kept,
            "recipe": asdict(recipe),
            "step": step,
            "seconds": elapsed,
            "loss": _recent(losses),
            "first_loss": losses[0] if losses else None,
            "history": list(history),
        },
        staging,
    )
    staging.replace(path)


def load_compact(path: Path) -> tuple[Any, CompactVocabulary, dict[str, Any]]:
    """The compact model saved by :func:`train` (eval mode), its vocabulary and its record."""
    import torch
    from transformers import Qwen3ForCausalLM

    saved = torch.load(path, weights_only=False)
    vocab = CompactVocabulary(saved["kept"])
    shape = ModelShape(**saved["recipe"]["shape"])
    model = Qwen3ForCausalLM(compact_config(shape, vocab.size + 1))
    model.load_state_dict(saved["state_dict"])
    return model.eval(), vocab, saved


def greedy_answer(
    model: Any, vocab: CompactVocabulary, prompt_ids: Sequence[int], max_new: int
) -> list[int]:
    """Greedy full-vocabulary token ids after ``prompt_ids``, up to and excluding a stop token.

    The zero row wins when every trained logit is below 0, as some unused token would in the
    full model; it is returned as ``<|endoftext|>`` there and ends the answer.
    """
    import torch

    ids = vocab.to_compact[torch.tensor([list(prompt_ids)])]
    stops = {int(vocab.to_compact[IM_END_ID]), int(vocab.to_compact[ENDOFTEXT_ID]), vocab.size}
    with torch.no_grad():
        output = model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new,
            do_sample=False, eos_token_id=sorted(stops), pad_token_id=vocab.size,
        )  # fmt: skip
    new = [int(t) for t in output[0, ids.shape[1] :]]
    while new and new[-1] in stops:
        new.pop()
    return [int(vocab.to_full[t]) for t in new]


def pack(
    compact_checkpoint: Path, shipped_dir: Path, *, command: str, commit: str | None = None
) -> dict[str, Any]:
    """Store a compact checkpoint as the shipped model: float16 weights and a manifest.

    ``weights.safetensors`` holds every tensor but the tied LM head, the embedding with only
    the trained rows (the zero row dropped) and ``kept_token_ids``; the manifest records the
    recipe, the run and the SHA-256 of the weights that
    :func:`service.models.shipped.expand_shipped_model` writes from them (computed here by
    expanding once). Metrics are added by :func:`record_metrics`.

    Returns:
        The manifest written.
    """
    import tempfile

    import torch
    from safetensors.torch import save_file

    from service.models.shipped import (
        EMBEDDING_TENSOR,
        KEPT_IDS_TENSOR,
        MANIFEST_FILE,
        WEIGHTS_FILE,
        expanded_tensors,
        file_sha256,
    )

    saved = torch.load(compact_checkpoint, weights_only=False)
    kept = saved["kept"]
    tensors = {
        name: tensor.to(torch.float16).contiguous()
        for name, tensor in saved["state_dict"].items()
        if name != "lm_head.weight"
    }
    tensors[EMBEDDING_TENSOR] = tensors[EMBEDDING_TENSOR][: len(kept)].contiguous()
    tensors[KEPT_IDS_TENSOR] = torch.tensor(kept, dtype=torch.int32)
    shipped_dir.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(shipped_dir / WEIGHTS_FILE), metadata={"format": "pt"})
    with tempfile.TemporaryDirectory() as scratch:
        from safetensors.torch import save_file as save_expanded

        expanded = Path(scratch) / "model.safetensors"
        save_expanded(expanded_tensors(shipped_dir), str(expanded), metadata={"format": "pt"})
        digest = file_sha256(expanded)
    recipe = saved["recipe"]
    # A continued run (``init_from``) counts the steps and seconds of every run that made it.
    history = [*saved.get("history", []), {"recipe": recipe, "step": saved["step"]}]
    history[-1]["seconds"] = saved["seconds"]
    manifest = {
        "name": "toolgrade-tool-caller",
        "shape": recipe["shape"],
        "trained_token_ids": len(kept),
        "command": command,
        "commit": commit,
        "recipe": recipe,
        "data": {
            "generator": "training.synth",
            "seed": recipe["data_seed"],
            "short_rows_seed": recipe["data_seed"] + 1,
            "rows": recipe["rows"],
        },
        "steps": sum(run["step"] for run in history),
        "training_seconds": round(sum(run["seconds"] for run in history), 1),
        "runs": [
            {"step": run["step"], "seconds": round(run["seconds"], 1), "recipe": run["recipe"]}
            for run in history
        ],
        "first_loss": saved["first_loss"],
        "final_loss": saved["loss"],
        "weights_dtype": "float16",
        "expanded_dtype": "float32",
        "expanded_sha256": digest,
        "metrics": None,
    }
    _write_manifest(shipped_dir / MANIFEST_FILE, manifest)
    return manifest


def record_metrics(shipped_dir: Path, evaluation: Mapping[str, Any]) -> None:
    """Add measured metrics (and how they were measured) to the shipped model's manifest."""
    from service.models.shipped import MANIFEST_FILE, read_manifest

    manifest = read_manifest(shipped_dir)
    manifest["metrics"] = dict(evaluation)
    _write_manifest(shipped_dir / MANIFEST_FILE, manifest)


def _write_manifest(path: Path, manifest: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m training.tool_caller train|pack|record-metrics``: see the module docstring."""
    import argparse
    import subprocess

    parser = argparse.ArgumentParser(prog="python -m training.tool_caller")
    commands = parser.add_subparsers(dest="command", required=True)
    train_parser = commands.add_parser("train", help="Train a compact model for a time budget.")
    train_parser.add_argument("out_dir", type=Path)
    defaults = Recipe()
    for name, value in asdict(defaults).items():
        if name != "shape":
            train_parser.add_argument(
                f"--{name.replace('_', '-')}", type=type(value), default=value
            )
    for name, value in asdict(defaults.shape).items():
        train_parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=value)
    train_parser.add_argument("--threads", type=int, default=1)
    pack_parser = commands.add_parser(
        "pack", help="Store a compact checkpoint as the shipped model."
    )
    pack_parser.add_argument("checkpoint", type=Path)
    pack_parser.add_argument("--shipped-dir", type=Path, default=None)
    pack_parser.add_argument(
        "--command-line", required=True, help="How the checkpoint was trained."
    )
    record_parser = commands.add_parser("record-metrics", help="Add `toolgrade eval run` reports.")
    record_parser.add_argument("full_report", type=Path, help="report.json of the held-out rows.")
    record_parser.add_argument("subset_report", type=Path, help="report.json of their first N.")
    record_parser.add_argument("--eval-seed", type=int, required=True)
    record_parser.add_argument("--shipped-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    from service.models.shipped import SHIPPED_DIR

    if args.command == "train":
        import torch

        from service.models.default_model import ensure_tiny_qwen3

        torch.set_num_threads(args.threads)
        shape = ModelShape(**{name: getattr(args, name) for name in asdict(defaults.shape)})
        recipe = Recipe(
            shape=shape,
            **{name: getattr(args, name) for name in asdict(defaults) if name != "shape"},
        )
        # Only the tokenizer and chat template of the builder's output are used.
        tokenizer_dir = ensure_tiny_qwen3(args.out_dir / "tokenizer-source")
        train(
            recipe,
            args.out_dir,
            tokenizer_dir,
            log=lambda m: print(time.strftime("%H:%M:%S"), m, flush=True),
        )
        return 0
    if args.command == "pack":
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False
            ).stdout.strip()
            or None
        )
        manifest = pack(
            args.checkpoint,
            args.shipped_dir or SHIPPED_DIR,
            command=args.command_line,
            commit=commit,
        )
        print(
            json.dumps({k: manifest[k] for k in ("steps", "training_seconds", "expanded_sha256")})
        )
        return 0
    full = json.loads(args.full_report.read_text())
    subset = json.loads(args.subset_report.read_text())
    record_metrics(
        args.shipped_dir or SHIPPED_DIR,
        {
            "how": "toolgrade eval run --max-tokens 256 on `toolgrade synth --seed EVAL_SEED` "
            "rows against `toolgrade serve` (its defaults: vLLM, dtype auto; greedy, tool_choice "
            "auto)",
            "eval_seed": args.eval_seed,
            "rows": full["count"],
            "full": full["summary"]["metrics"],
            "subset_rows": subset["count"],
            "subset": subset["summary"]["metrics"],
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
