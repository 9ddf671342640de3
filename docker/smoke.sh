#!/usr/bin/env bash
# End-to-end check of the images and the CPU compose stack, for real (opt-in: `make docker-smoke`,
# never part of `make test`). From the repository root:
#   docker/smoke.sh
# Needs a running Docker engine and Compose (v2 plugin or v1 `docker-compose`), plus a Python
# with the `openai` SDK for the client checks ($PYTHON, default .venv/bin/python).
#
# 1. the base image: pulled, or, when the registry cannot be reached, a stand-in with the same tag
#    built from Debian bookworm packages (debootstrap, root only) carrying this machine's CA
#    bundle, so pip works behind a TLS-inspecting proxy;
# 2. builds the `scoring` and `cpu` images (torch from $TOOLGRADE_TORCH_WHEELS when set: a folder
#    holding the torch CPU wheel, served to the build on loopback);
# 3. a missing TOOLGRADE_API_KEY stops compose with its message;
# 4. runs docker/compose.yaml + docker/compose.cpu.yaml, waits for health, checks /ready,
#    /reward (known rewards), a chat completion with tools through the `openai` SDK, uid 10001;
# 5. the `train` profile: prepare a sample, then 2 GRPO steps rewarded by http://reward:8000;
# 6. tears everything down (containers, volumes, network) and prints image sizes and timings.
#
# Settings (environment): PYTHON, TOOLGRADE_TORCH_WHEELS (and TOOLGRADE_WHEEL_PORT, default
# 18765, where that folder is served), TOOLGRADE_CA_BUNDLE (default
# /etc/ssl/certs/ca-certificates.crt), TOOLGRADE_SMOKE_TIMEOUT_S (wait for health, default 1200),
# NICE (priority of the builds, default 10).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
BASE_IMAGE=python:3.11-slim-bookworm
SCORING_IMAGE=toolgrade:scoring
CPU_IMAGE=toolgrade:cpu
CA_BUNDLE=${TOOLGRADE_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
HEALTH_TIMEOUT_S=${TOOLGRADE_SMOKE_TIMEOUT_S:-1200}
NICE=${NICE:-10}
PROJECT=toolgrade-smoke
WORK=$(mktemp -d /tmp/toolgrade-smoke.XXXXXX)
WHEEL_SERVER_PID=""
STARTED=$(date +%s)

log() { printf '[smoke %4ss] %s\n' "$(($(date +%s) - STARTED))" "$*"; }
pass() { printf '[smoke %4ss] PASS %s\n' "$(($(date +%s) - STARTED))" "$*"; }
die() {
    printf '[smoke] FAIL %s\n' "$*" >&2
    exit 1
}

if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE=(docker-compose)
else
    die "no Compose: install the v2 plugin or Compose v1 (pip install docker-compose)"
fi
docker info >/dev/null 2>&1 || die "no Docker engine answers (start dockerd)"
[[ -x $PYTHON ]] || die "PYTHON=$PYTHON is not an interpreter (it needs the openai SDK)"

free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
API_PORT=$(free_port)
REWARD_PORT=$(free_port)
API_KEY=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))')

# compose reads the shell first: make sure only the env files below decide.
unset TOOLGRADE_API_KEY COMPOSE_PROJECT_NAME COMPOSE_FILE
compose() { "${COMPOSE[@]}" -p "$PROJECT" -f docker/compose.yaml -f docker/compose.cpu.yaml \
    --env-file "$WORK/smoke.env" "$@"; }

cleanup() {
    local status=$?
    log "tearing down"
    if [[ -f $WORK/smoke.env ]]; then
        compose --profile train down --volumes --remove-orphans >"$WORK/down.log" 2>&1 \
            || cat "$WORK/down.log" >&2
    fi
    [[ -n $WHEEL_SERVER_PID ]] && kill "$WHEEL_SERVER_PID" 2>/dev/null
    # the trainer (uid 10001) wrote into the outputs folder: remove it from a container
    if [[ -d $WORK/outputs ]] && ! rm -rf "$WORK" 2>/dev/null; then
        docker run --rm --user 0 --entrypoint rm -v "$WORK:/smoke" "$CPU_IMAGE" -rf /smoke/outputs
        rm -rf "$WORK"
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT

# ---- 1. base image ----------------------------------------------------------------------------
build_standin_base() {
    [[ $(id -u) == 0 ]] || die "$BASE_IMAGE cannot be pulled and the stand-in needs root (debootstrap)"
    command -v debootstrap >/dev/null || die "$BASE_IMAGE cannot be pulled: apt-get install debootstrap"
    [[ -f $CA_BUNDLE ]] || die "CA bundle $CA_BUNDLE not found (set TOOLGRADE_CA_BUNDLE)"
    log "building the stand-in $BASE_IMAGE from Debian bookworm (debootstrap)"
    nice -n "$NICE" debootstrap --variant=minbase bookworm "$WORK/rootfs" http://deb.debian.org/debian \
        >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; die "debootstrap failed"; }
    tar -C "$WORK/rootfs" -c . | docker import - toolgrade-smoke/bookworm-rootfs >/dev/null
    rm -rf "$WORK/rootfs"
    mkdir -p "$WORK/base"
    cp "$CA_BUNDLE" "$WORK/base/ca-bundle.crt"
    # Same interpreter layout as the official image: `python` on PATH, venv and pip available.
    nice -n "$NICE" docker build --quiet --network host -t "$BASE_IMAGE" -f - "$WORK/base" >/dev/null <<'DOCKERFILE'
FROM toolgrade-smoke/bookworm-rootfs
COPY ca-bundle.crt /usr/local/share/toolgrade-smoke/ca-bundle.crt
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /usr/bin/python3 /usr/local/bin/python
ENV LANG=C.UTF-8 \
    PIP_CERT=/usr/local/share/toolgrade-smoke/ca-bundle.crt \
    SSL_CERT_FILE=/usr/local/share/toolgrade-smoke/ca-bundle.crt
CMD ["python3"]
DOCKERFILE
    docker image rm toolgrade-smoke/bookworm-rootfs >/dev/null
}

if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base image $BASE_IMAGE is present"
elif timeout 120 docker pull "$BASE_IMAGE" >/dev/null 2>&1; then
    log "pulled $BASE_IMAGE"
else
    build_standin_base
fi
pass "base image $BASE_IMAGE ($(docker image inspect -f '{{.Id}}' "$BASE_IMAGE" | cut -c8-19))"

# ---- 2. images --------------------------------------------------------------------------------
BUILD_ARGS=()
if [[ -n ${TOOLGRADE_TORCH_WHEELS:-} ]]; then
    ls "$TOOLGRADE_TORCH_WHEELS"/torch-*.whl >/dev/null 2>&1 \
        || die "TOOLGRADE_TORCH_WHEELS=$TOOLGRADE_TORCH_WHEELS holds no torch wheel"
    # A fixed port: the URL is part of the build argument, so a new one would rebuild torch's layer.
    WHEEL_PORT=${TOOLGRADE_WHEEL_PORT:-18765}
    "$PYTHON" -m http.server --bind 127.0.0.1 --directory "$TOOLGRADE_TORCH_WHEELS" "$WHEEL_PORT" \
        >"$WORK/wheels.log" 2>&1 &
    WHEEL_SERVER_PID=$!
    BUILD_ARGS+=(--build-arg "TORCH_SOURCE=--find-links http://127.0.0.1:$WHEEL_PORT/")
    log "torch from $TOOLGRADE_TORCH_WHEELS (served on 127.0.0.1:$WHEEL_PORT)"
fi

build() { # target tag
    local begin=$SECONDS
    nice -n "$NICE" docker build --network host "${BUILD_ARGS[@]}" -f docker/Dockerfile.cpu \
        --target "$1" -t "$2" . >"$WORK/build-$1.log" 2>&1 \
        || { tail -40 "$WORK/build-$1.log"; die "docker build --target $1 failed"; }
    local context
    context=$(grep -m1 'Sending build context' "$WORK/build-$1.log" | sed 's/.*Docker daemon *//' || true)
    pass "built $2 (target $1) in $((SECONDS - begin)) s${context:+, build context $context}"
}
build scoring "$SCORING_IMAGE"
build cpu "$CPU_IMAGE"

# ---- 3. a missing API key stops compose --------------------------------------------------------
mkdir -p "$WORK/models" "$WORK/outputs/prepared"
chmod 0777 "$WORK/outputs" "$WORK/outputs/prepared" # written by the containers' uid 10001
settings() {
    cat <<EOF
TOOLGRADE_ENV_FILE=$WORK/smoke.env
TOOLGRADE_MODELS_DIR=$WORK/models
TOOLGRADE_MODEL=/models/unused-on-cpu
TOOLGRADE_TRAIN_MODEL=/models/unused-on-cpu
TOOLGRADE_DATA_DIR=$WORK/outputs/prepared
TOOLGRADE_GRPO_DATA=/data/grpo/train.jsonl
TOOLGRADE_OUTPUTS_DIR=$WORK/outputs
TOOLGRADE_API_PORT=$API_PORT
TOOLGRADE_REWARD_PORT=$REWARD_PORT
TOOLGRADE_GRPO_MAX_STEPS=2
EOF
}
settings >"$WORK/smoke.env"
if compose up --no-build -d >"$WORK/nokey.log" 2>&1; then
    die "compose started without TOOLGRADE_API_KEY"
fi
grep -q 'set TOOLGRADE_API_KEY' "$WORK/nokey.log" || { cat "$WORK/nokey.log"; die "no key message"; }
[[ -z $(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT") ]] \
    || die "containers were created without TOOLGRADE_API_KEY"
pass "missing TOOLGRADE_API_KEY stops compose: $(grep -m1 -oE 'set TOOLGRADE_API_KEY[^}]*' "$WORK/nokey.log" | head -1)"
echo "TOOLGRADE_API_KEY=$API_KEY" >>"$WORK/smoke.env"

# ---- 4. the CPU stack -------------------------------------------------------------------------
compose up --no-build -d >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; die "compose up failed"; }
UP_AT=$(date +%s)
log "compose up: $(docker ps --filter "label=com.docker.compose.project=$PROJECT" --format '{{.Names}}' | sort | tr '\n' ' ')"
container() { compose ps -q "$1"; }
health() { docker inspect -f '{{.State.Health.Status}}' "$(container "$1")" 2>/dev/null || true; }
declare -A HEALTHY_AFTER=([api-cpu]="" [reward]="")
healthy=0
while ((healthy < 2)); do
    for service in api-cpu reward; do
        [[ -n ${HEALTHY_AFTER[$service]} ]] && continue
        status=$(health "$service")
        if [[ $status == healthy ]]; then
            HEALTHY_AFTER[$service]=$(($(date +%s) - UP_AT))
            healthy=$((healthy + 1))
            pass "$service healthy ${HEALTHY_AFTER[$service]} s after compose up"
        elif [[ $status == unhealthy || -z $status ]]; then
            compose logs --tail 60 "$service"
            die "$service is $status"
        fi
    done
    if (($(date +%s) - UP_AT > HEALTH_TIMEOUT_S)); then
        compose logs --tail 60
        die "not healthy after $HEALTH_TIMEOUT_S s"
    fi
    sleep 2
done

for service in api-cpu reward; do
    uid=$(compose exec -T "$service" id -u)
    [[ $uid == 10001 ]] || die "$service runs as uid $uid"
    pass "$service runs as uid $uid"
done

"$PYTHON" docker/smoke_checks.py --api "http://127.0.0.1:$API_PORT" \
    --reward "http://127.0.0.1:$REWARD_PORT" --key "$API_KEY" \
    | sed "s/^/[smoke $(printf '%4s' $(($(date +%s) - STARTED)))s] /" \
    || die "client checks failed"

# ---- 5. the train profile: 2 GRPO steps against http://reward:8000 -----------------------------
FIXTURE=$(docker run --rm --entrypoint python "$CPU_IMAGE" -c \
    'import training, pathlib; print(pathlib.Path(training.__file__).parent / "fixtures/xlam_sample.jsonl")')
compose --profile train run --rm --no-deps trainer-cpu prepare "$FIXTURE" \
    --output-dir /outputs/prepared >"$WORK/prepare.log" 2>&1 \
    || { tail -30 "$WORK/prepare.log"; die "prepare failed"; }
pass "prepare wrote $(wc -l <"$WORK/outputs/prepared/grpo/train.jsonl") GRPO prompts"
TRAIN_BEGIN=$SECONDS
compose --profile train up --no-build --exit-code-from trainer-cpu trainer-cpu >"$WORK/train.log" 2>&1 \
    || { tail -60 "$WORK/train.log"; die "the trainer failed"; }
grep -E 'steps|reward' "$WORK/train.log" | grep trainer-cpu | tail -6 | sed 's/^/    /'
grep -qE 'steps +│? *2\b|steps +2\b' "$WORK/train.log" || { tail -40 "$WORK/train.log"; die "not 2 steps"; }
grep -q 'http://reward:8000' "$WORK/train.log" || die "the trainer did not use http://reward:8000"
pass "trainer-cpu ran 2 GRPO steps rewarded by http://reward:8000 in $((SECONDS - TRAIN_BEGIN)) s"

# ---- 6. summary -------------------------------------------------------------------------------
echo
echo "images:"
for image in "$BASE_IMAGE" "$SCORING_IMAGE" "$CPU_IMAGE"; do
    echo "  $image  $(docker image ls --format '{{.Size}}' "$image")"
done
echo "time to healthy after compose up: api-cpu ${HEALTHY_AFTER[api-cpu]} s, reward ${HEALTHY_AFTER[reward]} s"
echo "all checks passed in $(($(date +%s) - STARTED)) s"
