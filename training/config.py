"""Job configurations: YAML files under ``training/configs/`` with command-line overrides.

Every job reads, in order (later wins): the packaged ``training/configs/<job>.yaml``, the user's
``--config`` file, ``--set dotted.key=value`` overrides (values parsed as YAML), then the job's
explicit CLI options. The result is validated by a pydantic model that forbids unknown keys, so a
typo fails loudly instead of being ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from training.errors import TrainingJobError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
XLAM_HUB_ID = "Salesforce/xlam-function-calling-60k"

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant with access to functions. Call them when they help answer the "
    "user; otherwise answer directly."
)


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoraSettings(_Config):
    """PEFT LoRA adapter shape (defaults from a common LLaMA-Factory LoRA recipe)."""

    r: int = Field(default=32, gt=0)
    alpha: int = Field(default=64, gt=0)
    dropout: float = Field(default=0.0, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"
    modules_to_save: list[str] | None = Field(
        default=None, description="Modules trained in full besides the adapter (e.g. [norm])."
    )
    ensure_weight_tying: bool = Field(
        default=True, description="Keep a tied output head tied to a trained embed_tokens."
    )


class PrepareConfig(_Config):
    """``toolgrade prepare``: xLAM rows -> LLaMA-Factory ShareGPT, TRL messages, GRPO prompts."""

    source: str = Field(default=XLAM_HUB_ID, description="A hub dataset id or a local file.")
    hub_split: str = "train"
    hf_token: SecretStr | None = Field(default=None, description="Else HF_TOKEN / hf auth login.")
    output_dir: Path = Path("runs/prepared")
    eval_fraction: float = Field(default=0.1, gt=0, lt=1)
    seed: int = 42
    max_rows: int | None = Field(default=None, gt=0)
    dataset_name: str = "toolgrade_xlam"
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    no_call_response: str = Field(
        default="None of the available functions can help with that request.",
        description="Assistant text for rows that expect no call and carry no `response`.",
    )
    tokenizer: str | None = Field(
        default=None, description="Tokenizer for GRPO prompts; unset means the service default."
    )
    enable_thinking: bool = False
    reject_flags: list[str] = Field(
        default_factory=list,
        description="Flag labels (schema:type_mismatch, ...) that reject a row, not mark it.",
    )


class SFTJobConfig(_Config):
    """``toolgrade sft``: LoRA supervised fine-tuning with TRL's SFTTrainer."""

    model: str | None = Field(default=None, description="Unset means the service default model.")
    train_file: Path = Path("runs/prepared/trl/train.jsonl")
    eval_file: Path | None = None
    output_dir: Path = Path("runs/sft")
    lora: LoraSettings | None = Field(
        default_factory=LoraSettings, description="null: full fine-tuning (no adapter)."
    )
    learning_rate: float = Field(default=2e-4, gt=0)
    per_device_train_batch_size: int = Field(default=2, gt=0)
    gradient_accumulation_steps: int = Field(default=8, gt=0)
    num_train_epochs: float = Field(default=3.0, gt=0)
    max_steps: int = -1
    max_time_s: float | None = Field(
        default=None,
        gt=0,
        description="Stop after this long; a cosine/linear schedule then runs over the time.",
    )
    max_train_rows: int | None = Field(default=None, gt=0)
    lr_scheduler_type: str = "cosine"
    warmup_steps: float = Field(default=0.1, ge=0, description="A ratio below 1, else steps.")
    max_length: int = Field(default=2048, gt=0)
    gradient_checkpointing: bool = True
    bf16: bool | Literal["auto"] = "auto"
    assistant_only_loss: bool = True
    logging_steps: int = Field(default=10, gt=0)
    save_steps: int = Field(default=500, gt=0)
    seed: int = 42
    vocabulary: Literal["full", "data"] = Field(
        default="full",
        description="data: zero and skip the output rows of tokens absent from the training "
        "data (exact loss; for a model trained from scratch; needs lora: null).",
    )
    trainer_args: dict[str, Any] = Field(
        default_factory=dict, description="Passed through to trl.SFTConfig."
    )

    @model_validator(mode="after")
    def _data_vocabulary_needs_full_finetuning(self) -> SFTJobConfig:
        if self.vocabulary == "data" and self.lora is not None:
            raise ValueError(
                "vocabulary: data trains the embedding rows it keeps; set lora: null (a LoRA "
                "adapter leaves the embeddings frozen)"
            )
        return self


class RewardSettings(_Config):
    """Where GRPO's reward comes from: the service's ``/reward`` or the core in-process."""

    url: str = "http://127.0.0.1:8000"
    local: bool = False
    # "seed" is the weighted profile's former name, still accepted.
    profile: Literal["weighted", "seed", "strict", "toolrl"] = "weighted"
    weights: dict[str, float] | None = None
    api_key: SecretStr | None = Field(default=None, description="Else TOOLGRADE_API_KEY.")
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=5, ge=0, description="Retries on connection errors/5xx.")


class GRPOJobConfig(_Config):
    """``toolgrade grpo``: TRL's GRPOTrainer rewarded by ToolGrade."""

    model: str | None = Field(default=None, description="Unset means the service default model.")
    train_file: Path = Path("runs/prepared/grpo/train.jsonl")
    output_dir: Path = Path("runs/grpo")
    reward: RewardSettings = Field(default_factory=RewardSettings)
    lora: LoraSettings | None = Field(default_factory=LoraSettings)
    num_generations: int = Field(default=8, ge=2)
    beta: float = Field(default=0.04, ge=0, description="KL coefficient.")
    learning_rate: float = Field(default=1e-5, gt=0)
    max_completion_length: int = Field(default=256, gt=0)
    temperature: float = Field(default=1.0, gt=0)
    per_device_train_batch_size: int = Field(default=8, gt=0)
    gradient_accumulation_steps: int = Field(default=1, gt=0)
    num_train_epochs: float = Field(default=1.0, gt=0)
    max_steps: int = -1
    max_prompts: int | None = Field(default=None, gt=0)
    gradient_checkpointing: bool = True
    bf16: bool | Literal["auto"] = "auto"
    use_vllm: bool = False
    vllm_mode: Literal["colocate", "server"] = "colocate"
    logging_steps: int = Field(default=1, gt=0)
    save_steps: int = Field(default=500, gt=0)
    seed: int = 42
    trainer_args: dict[str, Any] = Field(
        default_factory=dict, description="Passed through to trl.GRPOConfig."
    )


class MergeConfig(_Config):
    """``toolgrade merge``: fold a LoRA adapter into its base model."""

    adapter: Path = Path("runs/sft")
    base_model: str | None = Field(default=None, description="Else the adapter's own base.")
    output_dir: Path = Path("runs/merged")
    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    device_map: str = "cpu"
    force: bool = False
    tolerance: float = Field(
        default=1e-4, gt=0, description="Largest |merged - adapter| logit allowed (float32)."
    )
    verify_reload: bool = Field(
        default=True, description="Reload the saved model and check it gives the same logits."
    )
    probe_prompts: list[str] = Field(
        default_factory=lambda: [
            "What's the weather like in Paris?",
            "Convert 100 USD to EUR and tell me the time in Tokyo.",
        ]
    )


ConfigT = TypeVar("ConfigT", bound=BaseModel)


def load_job_config(
    model: type[ConfigT],
    job: str,
    config_file: Path | None = None,
    overrides: Sequence[str] = (),
    explicit: Mapping[str, Any] | None = None,
) -> ConfigT:
    """Build a job's configuration from its packaged YAML, a user file and overrides.

    Args:
        model: The pydantic model of the job (e.g. :class:`SFTJobConfig`).
        job: The job name; ``training/configs/<job>.yaml`` is the base layer.
        config_file: A user YAML file deep-merged over the base.
        overrides: ``dotted.key=value`` strings; values are parsed as YAML (``1e-4``, ``true``).
        explicit: Values from dedicated CLI options (``None`` entries are ignored).

    Returns:
        The validated configuration.

    Raises:
        TrainingJobError: ``config:not_found``, ``config:invalid_yaml``,
            ``config:invalid_override`` or ``config:invalid``.

    Example:
        >>> config = load_job_config(SFTJobConfig, "sft", overrides=["lora.r=8"],
        ...                          explicit={"max_steps": 3, "model": None})
        >>> config.lora.r, config.lora.alpha, config.max_steps
        (8, 64, 3)
    """
    values = _read_yaml(CONFIG_DIR / f"{job}.yaml")
    if config_file is not None:
        values = _deep_merge(values, _read_yaml(config_file))
    for override in overrides:
        key, value = _parse_override(override)
        _set_dotted(values, key, value)
    for key, value in (explicit or {}).items():
        if value is not None:
            _set_dotted(values, key, value)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise TrainingJobError(
            f"invalid {job} configuration:\n{exc}", label="config:invalid"
        ) from exc


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise TrainingJobError(f"config file {path} does not exist", label="config:not_found")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TrainingJobError(f"{path}: invalid YAML: {exc}", label="config:invalid_yaml") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise TrainingJobError(
            f"{path}: the top level must be a mapping", label="config:invalid_yaml"
        )
    return loaded


def _deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _parse_override(override: str) -> tuple[str, Any]:
    key, separator, raw = override.partition("=")
    if not separator or not key.strip():
        raise TrainingJobError(
            f"override {override!r} is not of the form dotted.key=value",
            label="config:invalid_override",
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise TrainingJobError(
            f"override {override!r}: the value is not valid YAML: {exc}",
            label="config:invalid_override",
        ) from exc
    return key.strip(), value


def _set_dotted(values: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    node = values
    for parent in parents:
        child = node.get(parent)
        if child is None:
            child = node[parent] = {}
        if not isinstance(child, dict):
            raise TrainingJobError(
                f"override {key!r}: {parent!r} is not a section", label="config:invalid_override"
            )
        node = child
    node[leaf] = value


def dump_config(config: BaseModel) -> dict[str, Any]:
    """A JSON-ready dict of a configuration with secrets masked (for run summaries)."""
    return config.model_dump(mode="json")
