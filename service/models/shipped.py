"""The shipped default model: a trained tiny Qwen3 tool caller, stored compactly in the repository.

``toolgrade-tool-caller/`` beside this module holds ``weights.safetensors`` — every tensor of the
model in float16, with only the embedding rows of the ≈1,000 tokens it was trained on (their ids in
``kept_token_ids``) — and ``manifest.json``: how it was made (command, data seed, steps, time,
commit), its shape, its measured metrics and the SHA-256 of the expanded weights.

:func:`ensure_shipped_model` expands it on first use into an ordinary Hugging Face checkpoint in
the cache (float32 ``model.safetensors`` with all 151,936 embedding rows, the unused ones zero,
which is what the model was trained to expect; ``config.json``; the Qwen3 tokenizer and chat
template), checks the checksum, and returns the folder, which vLLM, transformers, ``toolgrade
sft`` and ``toolgrade merge`` load unchanged. Nothing is trained or downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from service.models.default_model import (
    QWEN3_VOCAB_SIZE,
    qwen3_config,
    save_generation_config,
    save_qwen3_tokenizer,
)

SHIPPED_MODEL_NAME = "toolgrade-tool-caller"
SHIPPED_DIR = Path(__file__).resolve().parent / SHIPPED_MODEL_NAME
WEIGHTS_FILE = "weights.safetensors"
MANIFEST_FILE = "manifest.json"
KEPT_IDS_TENSOR = "kept_token_ids"
EMBEDDING_TENSOR = "model.embed_tokens.weight"
EXPANDED_WEIGHTS_FILE = "model.safetensors"
EXPANSION_RECORD = "toolgrade_shipped.json"


class ShippedModelError(RuntimeError):
    """The shipped model is missing or does not expand to the checkpoint its manifest names."""


def read_manifest(shipped_dir: Path = SHIPPED_DIR) -> dict[str, Any]:
    """The shipped model's manifest (``manifest.json``)."""
    try:
        manifest = json.loads((shipped_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ShippedModelError(f"cannot read {shipped_dir / MANIFEST_FILE}: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("expanded_sha256"), str):
        raise ShippedModelError(f"{shipped_dir / MANIFEST_FILE} names no expanded_sha256")
    return manifest


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def expanded_tensors(shipped_dir: Path = SHIPPED_DIR) -> dict[str, Any]:
    """The full checkpoint's tensors (float32): compact embedding rows put back at their ids."""
    import torch
    from safetensors.torch import load_file

    compact = load_file(str(shipped_dir / WEIGHTS_FILE))
    kept = compact.pop(KEPT_IDS_TENSOR).long()
    rows = compact.pop(EMBEDDING_TENSOR).float()
    embedding = torch.zeros((QWEN3_VOCAB_SIZE, rows.shape[1]), dtype=torch.float32)
    embedding[kept] = rows
    tensors = {name: tensor.float().contiguous() for name, tensor in compact.items()}
    tensors[EMBEDDING_TENSOR] = embedding
    return tensors


def expand_shipped_model(out_dir: Path, shipped_dir: Path = SHIPPED_DIR) -> Path:
    """Write the full Hugging Face checkpoint into ``out_dir`` and check its weights' checksum.

    Raises:
        ShippedModelError: the expanded weights do not have the manifest's SHA-256.
    """
    from safetensors.torch import save_file

    manifest = read_manifest(shipped_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / EXPANDED_WEIGHTS_FILE
    save_file(expanded_tensors(shipped_dir), str(weights), metadata={"format": "pt"})
    digest = file_sha256(weights)
    if digest != manifest["expanded_sha256"]:
        raise ShippedModelError(
            f"expanding {shipped_dir} gave weights with SHA-256 {digest}, the manifest says "
            f"{manifest['expanded_sha256']}"
        )
    config = qwen3_config(**manifest["shape"])
    # What save_pretrained of the model would record; vLLM picks its runner from it.
    config.architectures = ["Qwen3ForCausalLM"]
    config.save_pretrained(out_dir)
    save_generation_config(out_dir)
    save_qwen3_tokenizer(out_dir)
    record = {"expanded_sha256": digest, "from": str(shipped_dir)}
    (out_dir / EXPANSION_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    return out_dir


def ensure_shipped_model(cache_dir: Path, shipped_dir: Path = SHIPPED_DIR) -> Path:
    """The expanded shipped model under ``cache_dir/models``, expanded first if needed.

    An expansion whose recorded checksum is the manifest's is reused; anything else there is
    replaced. Expands into a sibling temporary folder renamed into place, so a concurrent
    caller never sees a half-written checkpoint.
    """
    manifest = read_manifest(shipped_dir)
    out_dir = cache_dir / "models" / SHIPPED_MODEL_NAME
    if _expansion_matches(out_dir, manifest):
        return out_dir
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        expand_shipped_model(staging, shipped_dir)
        if out_dir.exists() and not _expansion_matches(out_dir, manifest):
            shutil.rmtree(out_dir)
        try:
            os.rename(staging, out_dir)
        except OSError:
            if not _expansion_matches(out_dir, manifest):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def _expansion_matches(out_dir: Path, manifest: dict[str, Any]) -> bool:
    try:
        record = json.loads((out_dir / EXPANSION_RECORD).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(record, dict)
        and record.get("expanded_sha256") == manifest.get("expanded_sha256")
        and (out_dir / "config.json").is_file()
    )
