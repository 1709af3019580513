#!/usr/bin/env bash
# Build the CPU serving image (docker/Dockerfile) with podman and check that it serves:
# the base image is made locally with debootstrap when missing (no registry needed), the
# image is built and measured, then run: /ready, one translation on POST /v1/translate and
# one on the LibreTranslate-compatible POST /translate, both checked to be French, then
# SIGTERM and a clean exit within --stop-timeout seconds. Prints one JSON line; exits 0 only
# when every step passed (2: bad arguments, 1: a failed step, with the reason on stderr).
#
#   docker/check_image.sh                      # local Debian bookworm base, pip's local wheels
#   docker/check_image.sh --base-image python:3.11-slim-bookworm   # with a registry
#   docker/check_image.sh --skip-build         # check an image built before
#   docker/check_image.sh --cuda               # the CUDA training image, as far as no GPU allows
#
# Needs root (debootstrap, rootful podman), podman, debootstrap (for the local base), curl
# and python3 on the host. Podman runs with the vfs storage driver and chroot isolation,
# which work inside an unprivileged container or sandbox as well as on a normal host.
set -euo pipefail
shopt -s inherit_errexit  # a failing step inside $(...) stops the script too
cd "$(dirname "$0")/.."

readonly LOCAL_BASE=localhost/debian-bookworm-python
readonly BASE_PACKAGES=python3,python3-venv,ca-certificates,passwd
readonly TEXT="I would like a cup of coffee, please."
# vfs and chroot isolation (build) work without overlay mounts or nested namespaces; runc,
# because crun refuses a host whose cgroups mix v1 and v2 ("hybrid mode").
PODMAN=(podman --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --runtime runc)
# The engine's default limits (1048576 open files) are above what a process may set without
# CAP_SYS_RESOURCE (a sandbox); these are ample for the service.
RUN_LIMITS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
CONTAINER="nmt-check-$$"

base_image=$LOCAL_BASE
image=""
cuda=0
port=18000
mirror=""
wheels=""
ca_bundle=""
ready_timeout=300
stop_timeout=10
skip_build=0
print_config=0

usage() {
  cat <<EOF
usage: docker/check_image.sh [options]
  --base-image REF     base of the image (default: $LOCAL_BASE, made here if missing)
  --image TAG          tag of the built image (default: localhost/nmt-api:check, with
                       --cuda localhost/nmt-train:check)
  --port N             host port the container's 8000 is published on (default: $port)
  --mirror URL         Debian mirror for debootstrap (default: the first in apt's sources)
  --wheels DIR         folder holding the torch CPU wheel, passed as the 'wheels' build
                       context (default: \$PIP_FIND_LINKS when it holds one, else PyTorch's index)
  --ca-bundle FILE     CA certificates pip trusts during the build (for a TLS-intercepting
                       proxy; default: \$PIP_CERT when it is a file); never kept in the image
  --ready-timeout S    seconds to wait for /ready (default: $ready_timeout)
  --stop-timeout S     seconds allowed between SIGTERM and exit (default: $stop_timeout)
  --skip-build         use the image already tagged --image
  --cuda               build docker/Dockerfile.cuda instead and check that its nmt runs and
                       its torch is a CUDA build (no GPU is needed, none is used)
  --print-config       print the resolved settings as JSON and exit (nothing is run)
EOF
}

die() { echo "check_image: $*" >&2; exit 1; }
usage_error() { echo "check_image: $*" >&2; usage >&2; exit 2; }

positive_int() {  # name value
  if ! [[ "$2" =~ ^[1-9][0-9]{0,5}$ ]]; then
    usage_error "$1 needs a positive integer, got '$2'"
  fi
}

parse_args() {
  while (($#)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --skip-build) skip_build=1; shift; continue ;;
      --print-config) print_config=1; shift; continue ;;
      --cuda) cuda=1; shift; continue ;;
      --base-image | --image | --port | --mirror | --wheels | --ca-bundle | --ready-timeout \
        | --stop-timeout)
        if (($# < 2)) || [[ -z "$2" ]]; then usage_error "$1 needs a value"; fi
        ;;
      *) usage_error "unknown argument '$1'" ;;
    esac
    case "$1" in
      --base-image) base_image=$2 ;;
      --image) image=$2 ;;
      --port) positive_int "$1" "$2"; (($2 <= 65535)) || usage_error "--port must be <= 65535"
        port=$2 ;;
      --mirror) mirror=$2 ;;
      --wheels) [[ -d "$2" ]] || usage_error "--wheels: no such folder '$2'"; wheels=$2 ;;
      --ca-bundle) [[ -f "$2" ]] || usage_error "--ca-bundle: no such file '$2'"; ca_bundle=$2 ;;
      --ready-timeout) positive_int "$1" "$2"; ready_timeout=$2 ;;
      --stop-timeout) positive_int "$1" "$2"; stop_timeout=$2 ;;
    esac
    shift 2
  done
}

# The first Debian (not security) mirror in apt's sources, else deb.debian.org.
default_mirror() {
  local found
  found=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -E '^[[:space:]]*(deb|URIs:)[[:space:]]' | grep -oE 'https?://[^[:space:]]+/debian/?' \
    | head -n 1 || true)
  echo "${found:-http://deb.debian.org/debian}"
}

# A folder with a torch CPU wheel: --wheels, else pip's own find-links folder when it has one.
default_wheels() {
  local dir=${PIP_FIND_LINKS:-}
  if [[ -d "$dir" ]] && compgen -G "$dir/torch-*+cpu-*.whl" >/dev/null; then echo "$dir"; fi
}

# pip's CA bundle on this host ($PIP_CERT), when there is one.
default_ca_bundle() {
  if [[ -f "${PIP_CERT:-}" ]]; then echo "$PIP_CERT"; fi
}

print_settings() {
  python3 -c 'import json, sys; keys = sys.argv[1::2]; values = sys.argv[2::2]
print(json.dumps(dict(zip(keys, values))))' base_image "$base_image" image "$image" \
    port "$port" mirror "$mirror" wheels "$wheels" ca_bundle "$ca_bundle" ready_timeout "$ready_timeout" \
    stop_timeout "$stop_timeout" skip_build "$skip_build" cuda "$cuda"
}

# Debian bookworm minbase with python3 and its venv module, imported as $LOCAL_BASE.
make_base() {
  command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
  ((EUID == 0)) || die "making the base image needs root (debootstrap)"
  local rootfs
  rootfs=$(mktemp -d /var/tmp/nmt-base.XXXXXX)
  chmod 755 "$rootfs"  # the image's / (mktemp makes it 0700: only root could use the image)
  echo "check_image: debootstrap bookworm from $mirror into $rootfs" >&2
  if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" "$mirror" \
    >"$rootfs.log" 2>&1; then
    tail -n 20 "$rootfs.log" >&2
    rm -rf "$rootfs"
    die "debootstrap failed (log: $rootfs.log)"
  fi
  # What an image never needs: package lists and caches, documentation.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  tar --numeric-owner -C "$rootfs" -c . \
    | "${PODMAN[@]}" import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$LOCAL_BASE" \
      >/dev/null || die "podman import of the base failed"
  rm -rf "$rootfs" "$rootfs.log"
}

# Builds $image; prints the seconds it took. --layers=false: with the vfs driver every
# intermediate layer is a full copy of the tree, so only the final image is committed.
build_image() {
  local dockerfile=docker/Dockerfile
  ((!cuda)) || dockerfile=docker/Dockerfile.cuda
  local args=(build --isolation chroot --format docker --layers=false -f "$dockerfile"
    -t "$image" --build-arg "BASE_IMAGE=$base_image")
  if [[ -n "$wheels" ]] && ((!cuda)); then
    args+=(--build-context "wheels=$wheels" --build-arg TORCH_INDEX_URL=)
  fi
  if [[ -n "$ca_bundle" ]]; then args+=(--secret "id=pip_ca,src=$ca_bundle"); fi
  local start=$SECONDS
  "${PODMAN[@]}" "${args[@]}" . >&2 || die "podman build failed"
  echo $((SECONDS - start))
}

image_size_mb() {
  local bytes
  bytes=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$image") || die "no image $image"
  python3 -c "print(round($bytes / 1e6, 1))"
}

cleanup() {
  "${PODMAN[@]}" rm -f -t 0 "$CONTAINER" >/dev/null 2>&1 || true
}

show_logs() {
  echo "check_image: container log (last 30 lines):" >&2
  "${PODMAN[@]}" logs --tail 30 "$CONTAINER" >&2 || true
}

now() { date +%s.%N; }
since() { python3 -c "import sys, time; print(round(time.time() - float(sys.argv[1]), 1))" "$1"; }

# Starts the container from $image; prints the seconds `podman run` took (with vfs it copies
# the image's whole tree first).
start_container() {
  local start log="/tmp/$CONTAINER.run.log"
  start=$(now)
  # stderr to a file: without systemd, podman logs errors about healthcheck timers.
  "${PODMAN[@]}" run -d --name "$CONTAINER" "${RUN_LIMITS[@]}" -p "127.0.0.1:$port:8000" \
    "$image" >/dev/null 2>"$log" || { cat "$log" >&2; die "podman run failed"; }
  rm -f "$log"
  since "$start"
}

# Waits for 200 on /ready; prints the seconds it took.
wait_ready() {
  local start deadline=$((SECONDS + ready_timeout))
  start=$(now)
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/ready" 2>/dev/null; do
    if [[ "$("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$CONTAINER")" != true ]]; then
      show_logs; die "the container exited before it was ready"
    fi
    ((SECONDS < deadline)) || { show_logs; die "not ready after ${ready_timeout}s"; }
    sleep 0.5
  done
  since "$start"
}

# POSTs JSON $2 to path $1 and prints the answer's field at dotted path $3 (e.g. a.0.b).
post_translation() {
  local answer
  answer=$(curl -fsS -H 'Content-Type: application/json' -d "$2" \
    "http://127.0.0.1:$port$1") || { show_logs; die "POST $1 failed"; }
  python3 -c 'import json, sys
value = json.loads(sys.argv[1])
for key in sys.argv[2].split("."):
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value)' "$answer" "$3" 2>/dev/null || die "POST $1: no $3 in the answer: $answer"
}

# Fails unless $2 (the translation of $TEXT from route $1) reads as French.
check_french() {
  python3 - "$1" "$2" "$TEXT" <<'EOF' || exit 1
import re, sys
route, text, source = sys.argv[1:]
french = {"je", "j", "voudrais", "une", "un", "de", "du", "tasse", "café", "s", "il", "vous",
          "plaît", "le", "la", "les", "merci", "aimerais"}
words = set(re.findall(r"\w+", text.lower()))
if text.strip().lower() == source.lower() or len(words & french) < 2:
    sys.exit(f"check_image: {route} answered {text!r}, which does not read as French")
EOF
}

# Runs the image's HEALTHCHECK once (podman schedules it with systemd timers, absent here).
check_health() {
  "${PODMAN[@]}" healthcheck run "$CONTAINER" >/dev/null 2>&1 \
    || { show_logs; die "the image's HEALTHCHECK failed"; }
}

# Sends SIGTERM; prints "<seconds to exit> <exit code>", failing past --stop-timeout.
stop_container() {
  local start code
  start=$(now)
  "${PODMAN[@]}" kill --signal TERM "$CONTAINER" >/dev/null || die "could not signal the container"
  code=$(timeout "$stop_timeout" "${PODMAN[@]}" wait "$CONTAINER") \
    || { show_logs; die "still running ${stop_timeout}s after SIGTERM"; }
  ((code == 0)) || { show_logs; die "exited with code $code after SIGTERM"; }
  echo "$(since "$start") $code"
}

# The result line: JSON from alternating key and value arguments (numbers where they parse).
report() {
  python3 -c 'import json, sys
def value(text):
    if text in ("null", "True", "False"):
        return {"null": None, "True": True, "False": False}[text]
    try:
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return text
pairs = sys.argv[1:]
print(json.dumps({k: value(v) for k, v in zip(pairs[::2], pairs[1::2])}, ensure_ascii=False))' "$@"
}

# The CUDA image without a GPU: `nmt --help` runs and torch is a CUDA build. Prints
# "<torch version> <its CUDA version> <cuda available>".
check_cuda_image() {
  local out
  out=$("${PODMAN[@]}" run --rm "${RUN_LIMITS[@]}" --entrypoint sh "$image" -c \
    'nmt --help >/dev/null && python -c "import torch
print(torch.__version__, torch.version.cuda, torch.cuda.is_available())"') \
    || die "nmt or torch does not run in $image"
  [[ "$(echo "$out" | cut -d ' ' -f 2)" != None ]] || die "torch in $image is no CUDA build: $out"
  echo "$out"
}

# The CPU image: serve, translate on both APIs, healthcheck, SIGTERM. Prints the result
# fields as alternating keys and values (one per line) for `report`.
check_serving() {
  local run_seconds ready_seconds v1_text lt_text stop
  run_seconds=$(start_container)
  ready_seconds=$(wait_ready)
  v1_text=$(post_translation /v1/translate "{\"text\": \"$TEXT\"}" translations.0.text)
  check_french /v1/translate "$v1_text"
  lt_text=$(post_translation /translate "{\"q\": \"$TEXT\", \"source\": \"en\", \"target\": \"fr\"}" \
    translatedText)
  check_french /translate "$lt_text"
  check_health
  stop=$(stop_container)
  printf '%s\n' run_seconds "$run_seconds" ready_seconds "$ready_seconds" source "$TEXT" \
    v1_translation "$v1_text" libretranslate_translation "$lt_text" healthcheck ok \
    stop_seconds "${stop% *}" exit_code "${stop#* }"
}

main() {
  parse_args "$@"
  [[ -n "$image" ]] || image=localhost/nmt-$( ((cuda)) && echo train || echo api):check
  [[ -n "$mirror" ]] || mirror=$(default_mirror)
  [[ -n "$wheels" ]] || wheels=$(default_wheels)
  [[ -n "$ca_bundle" ]] || ca_bundle=$(default_ca_bundle)
  if ((print_config)); then print_settings; exit 0; fi
  command -v podman >/dev/null || die "podman is missing (apt-get install podman)"
  for tool in curl python3; do command -v "$tool" >/dev/null || die "$tool is missing"; done

  local build_seconds=null base_seconds=null start size_mb out fields torch_version torch_cuda gpu
  if ((!skip_build)); then
    if [[ "$base_image" == "$LOCAL_BASE" ]] && ! "${PODMAN[@]}" image exists "$LOCAL_BASE"; then
      start=$SECONDS; make_base; base_seconds=$((SECONDS - start))
    fi
    build_seconds=$(build_image)
  fi
  size_mb=$(image_size_mb)
  trap cleanup EXIT
  if ((cuda)); then
    out=$(check_cuda_image)
    read -r torch_version torch_cuda gpu <<<"$out"
    fields=(torch "$torch_version" torch_cuda "$torch_cuda" cuda_available_here "$gpu")
  else
    out=$(check_serving)
    mapfile -t fields <<<"$out"
  fi
  report image "$image" base_image "$base_image" base_seconds "$base_seconds" \
    build_seconds "$build_seconds" image_size_mb "$size_mb" "${fields[@]}"
}

main "$@"
