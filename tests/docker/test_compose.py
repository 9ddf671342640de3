"""docker/compose.yaml, .env.example and the Dockerfiles agree, checked without Docker.

Each break test edits a temporary copy of docker/ (and the files its images copy) and asserts
the checker names the break: a check that cannot fail proves nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from service.config import REPO_ROOT, Settings
from tests.docker.compose_project import (
    InterpolationError,
    compose_variables,
    dockerfile_stages,
    env_example_entries,
    example_environment,
    find_problems,
    interpolate,
    interpolate_document,
    schema_errors,
)

DOCKER_DIR = REPO_ROOT / "docker"
SETTINGS_VARIABLES = {f"TOOLGRADE_{name.upper()}" for name in Settings.model_fields}


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of what the compose project reads: docker/ plus the build context's sources."""
    for name in ("docker", "service", "training", "clients"):
        shutil.copytree(
            REPO_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    return tmp_path / "docker"


def compose_document() -> dict:
    return yaml.safe_load((DOCKER_DIR / "compose.yaml").read_text(encoding="utf-8"))


def test_the_project_as_committed_has_no_problems() -> None:
    assert find_problems(DOCKER_DIR, SETTINGS_VARIABLES) == []


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    assert schema_errors(compose_document()) == []


def test_schema_validation_rejects_a_misspelt_key() -> None:
    document = compose_document()
    document["services"]["reward"]["helthcheck"] = document["services"]["reward"].pop("healthcheck")
    errors = schema_errors(document)
    assert len(errors) == 1
    assert errors[0].startswith("services/reward:")
    assert "helthcheck" in errors[0]


def test_api_reserves_an_nvidia_gpu_shares_ipc_and_mounts_models_and_caches() -> None:
    api = compose_document()["services"]["api"]
    (device,) = api["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert device["capabilities"] == ["gpu"]
    assert api["ipc"] == "host"
    resolved = interpolate_document(api, example_environment(DOCKER_DIR))
    targets = {volume.split(":")[1] for volume in resolved["volumes"]}
    assert targets == {"/models", "/var/cache/huggingface", "/var/cache/toolgrade"}
    assert api["build"]["target"] == "api"
    assert api["build"]["dockerfile"] == "docker/Dockerfile.gpu"


def test_required_settings_use_the_error_form_and_are_set_in_the_example() -> None:
    uses = compose_variables(compose_document())
    required = {name for name, use in uses.items() if use.required}
    assert {"TOOLGRADE_API_KEY", "TOOLGRADE_MODEL", "TOOLGRADE_MODELS_DIR"} <= required
    example = example_environment(DOCKER_DIR)
    assert required <= set(example)


def test_reward_is_scoring_only_on_cpu_and_the_trainer_waits_for_it() -> None:
    services = compose_document()["services"]
    reward, trainer = services["reward"], services["trainer"]
    assert "deploy" not in reward  # no GPU reservation
    assert reward["build"] == {
        "context": "..",
        "dockerfile": "docker/Dockerfile.cpu",
        "target": "scoring",
    }
    assert "--no-model" in reward["command"]
    assert trainer["profiles"] == ["train"]
    assert trainer["depends_on"] == {"reward": {"condition": "service_healthy"}}
    assert trainer["command"][0] == "grpo"
    url_flag = trainer["command"].index("--reward-url")
    assert trainer["command"][url_flag + 1] == "http://reward:8000"


def test_interpolation_follows_the_compose_rules() -> None:
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET:-d} ${UNSET:-d} ${EMPTY:-d} ${EMPTY-d}", env) == "v d d "
    assert interpolate("${UNSET:-${SET}}/$SET/$$SET", env) == "v/v/$SET"
    assert interpolate("${SET:+yes}${UNSET:+no}", env) == "yes"
    with pytest.raises(InterpolationError, match="EMPTY"):
        interpolate("${EMPTY:?set it}", env)
    assert interpolate("${EMPTY?set it}", env) == ""


def test_copying_the_example_env_yields_a_complete_compose_configuration() -> None:
    resolved = interpolate_document(compose_document(), example_environment(DOCKER_DIR))
    api_env = resolved["services"]["api"]["environment"]
    assert api_env["TOOLGRADE_MODEL"] == "/models/qwen3-0.6b-toolgrade"
    assert resolved["services"]["reward"]["command"] == ["serve", "--no-model", "--workers", "2"]
    assert resolved["services"]["api"]["ports"] == ["8000:8000"]


def test_every_documented_toolgrade_variable_is_a_setting_or_a_compose_variable() -> None:
    used = set(compose_variables(compose_document()))
    for name in env_example_entries(DOCKER_DIR / ".env.example"):
        assert name in used or name in SETTINGS_VARIABLES, name


def test_images_are_multi_stage_non_root_with_health_checks() -> None:
    cpu = dockerfile_stages(DOCKER_DIR / "Dockerfile.cpu")
    gpu = dockerfile_stages(DOCKER_DIR / "Dockerfile.gpu")
    for stages, targets in ((cpu, ("scoring", "cpu")), (gpu, ("api",))):
        for target in targets:
            stage = stages[target]
            assert stage.user == "10001:10001", target
            assert stage.healthcheck == [
                "python",
                "/usr/local/lib/toolgrade/healthcheck.py",
                "/ready",
            ], target
            assert "/opt/venv" in stage.copy_destinations, target  # built in another stage
    assert gpu["trainer"].user == "10001:10001"
    assert cpu["scoring"].entrypoint + cpu["scoring"].cmd == ["toolgrade", "serve", "--no-model"]
    assert gpu["api"].entrypoint + gpu["api"].cmd == ["toolgrade", "serve"]


# ---- the checker fails when something is removed (edited temporary copies) ----------------


def test_removing_a_documented_variable_is_reported(project_copy: Path) -> None:
    example = project_copy / ".env.example"
    lines = example.read_text(encoding="utf-8").splitlines()
    example.write_text(
        "\n".join(line for line in lines if "TOOLGRADE_REWARD_WORKERS=" not in line) + "\n",
        encoding="utf-8",
    )
    assert find_problems(project_copy, SETTINGS_VARIABLES) == [
        ".env.example does not document ${TOOLGRADE_REWARD_WORKERS}"
    ]


def test_commenting_out_a_required_variable_is_reported(project_copy: Path) -> None:
    example = project_copy / ".env.example"
    text = example.read_text(encoding="utf-8")
    example.write_text(text.replace("\nTOOLGRADE_MODEL=", "\n# TOOLGRADE_MODEL="), "utf-8")
    problems = find_problems(project_copy, SETTINGS_VARIABLES)
    assert problems[0] == ".env.example must set required ${TOOLGRADE_MODEL} (not commented out)"
    assert problems[1].startswith("with .env.example values: required variable TOOLGRADE_MODEL")


def test_a_new_undocumented_compose_variable_is_reported(project_copy: Path) -> None:
    compose = project_copy / "compose.yaml"
    text = compose.read_text(encoding="utf-8")
    compose.write_text(
        text.replace('TOOLGRADE_NO_MODEL: "true"', "TOOLGRADE_NO_MODEL: ${NEW_KNOB:-true}"),
        encoding="utf-8",
    )
    assert find_problems(project_copy, SETTINGS_VARIABLES) == [
        ".env.example does not document ${NEW_KNOB}"
    ]


def test_a_removed_dockerfile_is_reported(project_copy: Path) -> None:
    (project_copy / "Dockerfile.cpu").unlink()
    (problem,) = find_problems(project_copy, SETTINGS_VARIABLES)
    assert problem.startswith("service reward: Dockerfile ")
    assert problem.endswith("docker/Dockerfile.cpu does not exist")


def test_a_removed_build_target_is_reported(project_copy: Path) -> None:
    dockerfile = project_copy / "Dockerfile.gpu"
    text = dockerfile.read_text(encoding="utf-8")
    dockerfile.write_text(text.replace("AS trainer", "AS trainer-renamed"), encoding="utf-8")
    assert find_problems(project_copy, SETTINGS_VARIABLES) == [
        "service trainer: target 'trainer' is not a stage of Dockerfile.gpu"
    ]


def test_a_removed_file_the_images_copy_is_reported(project_copy: Path) -> None:
    (project_copy / "healthcheck.py").unlink()
    problems = find_problems(project_copy, SETTINGS_VARIABLES)
    assert "Dockerfile.cpu stage runtime: COPY source docker/healthcheck.py is missing" in problems
    assert "Dockerfile.gpu stage runtime: COPY source docker/healthcheck.py is missing" in problems


def test_a_health_check_script_the_image_lacks_is_reported(project_copy: Path) -> None:
    compose = project_copy / "compose.yaml"
    text = compose.read_text(encoding="utf-8")
    compose.write_text(
        text.replace(
            '"/usr/local/lib/toolgrade/healthcheck.py", "/ready"]\n      interval: 10s',
            '"/opt/health.py", "/ready"]\n      interval: 10s',
        ),
        encoding="utf-8",
    )
    assert find_problems(project_copy, SETTINGS_VARIABLES) == [
        "service reward: health check runs /opt/health.py, which the image does not contain"
    ]


def test_a_root_image_is_reported(project_copy: Path) -> None:
    dockerfile = project_copy / "Dockerfile.cpu"
    text = dockerfile.read_text(encoding="utf-8")
    dockerfile.write_text(
        text.replace(
            "COPY --from=build-scoring /opt/venv /opt/venv\nUSER 10001:10001\n",
            "COPY --from=build-scoring /opt/venv /opt/venv\n",
        ),
        encoding="utf-8",
    )
    assert find_problems(project_copy, SETTINGS_VARIABLES) == [
        "service reward: image stage scoring runs as root"
    ]


def test_a_missing_dockerignore_is_reported(project_copy: Path) -> None:
    (project_copy / "Dockerfile.cpu.dockerignore").unlink()
    assert find_problems(project_copy, SETTINGS_VARIABLES) == [
        "service reward: Dockerfile.cpu.dockerignore is missing (the context is sent whole)"
    ]


def test_a_dockerignore_that_drops_a_copied_file_is_reported(project_copy: Path) -> None:
    ignore = project_copy / "Dockerfile.gpu.dockerignore"
    ignore.write_text(ignore.read_text(encoding="utf-8") + "clients/\n", encoding="utf-8")
    problems = find_problems(project_copy, SETTINGS_VARIABLES)
    assert (
        problems
        == [
            "Dockerfile.gpu stage build-api: COPY source clients is excluded by "
            "Dockerfile.gpu.dockerignore"
        ]
        * 2
    )  # checked for both services built from Dockerfile.gpu (api, trainer)


def test_a_stale_documented_variable_is_reported(project_copy: Path) -> None:
    example = project_copy / ".env.example"
    with example.open("a", encoding="utf-8") as handle:
        handle.write("# TOOLGRADE_NOT_A_SETTING=1\n")
    assert find_problems(project_copy, SETTINGS_VARIABLES) == [
        ".env.example documents TOOLGRADE_NOT_A_SETTING, which nothing reads"
    ]
