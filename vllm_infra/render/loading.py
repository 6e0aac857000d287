"""The loading strategy on the cluster: the prefetch Job that downloads the model into the shared
cache (and the init container that holds serving pods until it has), the model image mounted as an
image volume or copied out by an init container, and the streamer's flags."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from vllm_infra.catalog.gpus import hidden_gpus_env
from vllm_infra.catalog.vllm import RUNAI_STREAMER_FORMAT
from vllm_infra.render.context import RenderContext
from vllm_infra.render.labels import MODEL_ANNOTATION, common_labels
from vllm_infra.render.lora import FETCH_RESOURCES, adapter_downloads
from vllm_infra.spec.environment import CACHE_PATH, HF_TOKEN_DIR, TMP_PATH, managed_env
from vllm_infra.spec.loading import LoadingStrategy
from vllm_infra.spec.resolved import CACHE_DEFAULT_GIB, MODEL_IMAGE_PATH, MODELCAR_DIR, ResolvedService
from vllm_infra.vocabulary.kubernetes import (
    IMAGE_VOLUMES_ON_BY_DEFAULT,
    INSTANCE_LABEL,
    PREFETCH_LABEL,
    PULUMI_TIMEOUT_ANNOTATION,
    SERVICE_LABEL,
    minor_version,
)
from vllm_infra.vocabulary.reporting import IMAGE_PINNING_RULE
from vllm_infra.vocabulary.units import GIB_BYTES, format_bytes, gib_to_bytes
from vllm_infra.vocabulary.waivers import waiver_annotation

MODEL_IMAGE_VOLUME = "model-image"
PREFETCH_CONTAINER = "prefetch"
AWAIT_CONTAINER = "await-prefetch"
COPY_CONTAINER = "copy-model"
PREFETCH_COMPONENT = "model-prefetch"
MARKER_DIR = f"{CACHE_PATH}/.vllm-infra"
"""Where the prefetch Job leaves a marker once the model and adapters are complete."""
PREFETCH_RETRIES = 3
MIN_PREFETCH_DEADLINE_SECONDS = 3600
WAIT_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "64Mi"}}
"""A Python loop that checks for the marker every ten seconds."""
COPY_RESOURCES = {"requests": {"cpu": "1", "memory": "256Mi"}, "limits": {"memory": "256Mi"}}
"""``cp`` streams the files through the page cache; it needs little memory of its own."""
COPY_HEADROOM = 1.05
"""The copied files' size over the served weights (config, tokenizer, filesystem blocks)."""
WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "*.jinja", "*.py"]
"""What the Job downloads: the safetensors checkpoint, its configs and tokenizer files, and remote
code; the ``original/`` checkpoints some repositories carry beside it are skipped, as vLLM skips them."""

_PREFETCH_SCRIPT = (
    "import json, os, sys\nfrom huggingface_hub import snapshot_download\n"
    "model, revision, adapters, marker = json.loads(sys.argv[1])\n"
    "snapshot_download(repo_id=model, revision=revision, allow_patterns=json.loads(sys.argv[2]),\n"
    "                  ignore_patterns=['original/*'])\n"
    "for repo, rev, path in adapters:\n"
    "    snapshot_download(repo_id=repo, revision=rev, local_dir=path)\n"
    "os.makedirs(os.path.dirname(marker), exist_ok=True)\n"
    "open(marker + '.tmp', 'w').close()\n"
    "os.replace(marker + '.tmp', marker)\n")
_AWAIT_SCRIPT = "import os, sys, time\nwhile not os.path.exists(sys.argv[1]):\n    time.sleep(10)\n"


def _wanted(service: ResolvedService) -> list[Any]:
    return [service.spec.model.id, service.spec.model.revision, adapter_downloads(service)]


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:10]


def prefetch_marker(service: ResolvedService) -> str:
    """The file the prefetch Job writes last, named by what it fetched: a new revision or adapter set
    is waited for anew, a new image for the same weights is not."""
    return f"{MARKER_DIR}/{_digest(_wanted(service))}"


def prefetch_name(service: ResolvedService) -> str:
    """Name of the prefetch Job's NetworkPolicy (the Job's own name adds its template's hash)."""
    return f"{service.name}-prefetch"


def image_volumes_served(context: RenderContext) -> bool:
    """Whether the cluster's Kubernetes version enables image volumes by default."""
    return minor_version(context.kubernetes_version) >= minor_version(IMAGE_VOLUMES_ON_BY_DEFAULT)


def copies_model_image(service: ResolvedService, context: RenderContext) -> bool:
    """Whether an init container copies the model image's files (clusters without image volumes)."""
    return service.strategy == LoadingStrategy.IMAGE and not image_volumes_served(context)


def copied_model_bytes(service: ResolvedService) -> int:
    """Size of the emptyDir the model image is copied into."""
    weights = service.weights_bytes
    if weights is None:
        return gib_to_bytes(CACHE_DEFAULT_GIB)
    return gib_to_bytes(math.ceil(COPY_HEADROOM * weights / GIB_BYTES))


def loading_args(service: ResolvedService) -> list[str]:
    """Engine flags the strategy needs."""
    return [f"--load-format={RUNAI_STREAMER_FORMAT}"] if service.strategy == LoadingStrategy.STREAM else []


def model_image_volume(service: ResolvedService, context: RenderContext) -> dict[str, Any] | None:
    """The volume the server reads the model image from (None for other strategies)."""
    if service.strategy != LoadingStrategy.IMAGE:
        return None
    if copies_model_image(service, context):
        return {"name": MODEL_IMAGE_VOLUME, "emptyDir": {"sizeLimit": format_bytes(copied_model_bytes(service))}}
    return {"name": MODEL_IMAGE_VOLUME, "image": {"reference": service.spec.loading.image,
                                                   "pullPolicy": "IfNotPresent"}}


def model_image_mount(service: ResolvedService) -> list[dict[str, Any]]:
    """The server's read-only mount of the model image (none for other strategies)."""
    if service.strategy != LoadingStrategy.IMAGE:
        return []
    return [{"name": MODEL_IMAGE_VOLUME, "mountPath": MODEL_IMAGE_PATH, "readOnly": True}]


def loading_init_containers(service: ResolvedService, context: RenderContext,
                            server: dict[str, Any]) -> list[dict[str, Any]]:
    """What must finish before the server starts: the prefetch Job (waited for), or the copy of the
    model image's files."""
    env = [{"name": name, "value": value} for name, value in hidden_gpus_env(service.gpu.vendor).items()]
    if service.strategy == LoadingStrategy.PREFETCH:
        cache = [mount for mount in server["volumeMounts"] if mount["mountPath"] == CACHE_PATH]
        return [{"name": AWAIT_CONTAINER, "image": server["image"], "imagePullPolicy": server["imagePullPolicy"],
                 "command": ["python3", "-c", _AWAIT_SCRIPT, prefetch_marker(service)], "env": env,
                 "resources": WAIT_RESOURCES, "securityContext": server["securityContext"], "volumeMounts": cache}]
    if copies_model_image(service, context):
        return [{"name": COPY_CONTAINER, "image": service.spec.loading.image, "imagePullPolicy": "IfNotPresent",
                 "command": ["cp", "-R", MODELCAR_DIR, f"{MODEL_IMAGE_PATH}/"], "env": env,
                 "resources": COPY_RESOURCES, "securityContext": server["securityContext"],
                 "volumeMounts": [{"name": MODEL_IMAGE_VOLUME, "mountPath": MODEL_IMAGE_PATH}]}]
    return []


def prefetch_labels(service: ResolvedService, context: RenderContext, instance: str) -> dict[str, str]:
    """The service's labels without its selector label (the Service must never route to the Job's
    pod), marked as its prefetch, for the object named ``instance``."""
    labels = {key: value for key, value in common_labels(service, context).items() if key != SERVICE_LABEL}
    labels.update({INSTANCE_LABEL: instance, "app.kubernetes.io/component": PREFETCH_COMPONENT,
                   PREFETCH_LABEL: service.name})
    return labels


def prefetch_deadline(service: ResolvedService) -> int:
    """``activeDeadlineSeconds``: every attempt of the download, at least an hour."""
    return max(MIN_PREFETCH_DEADLINE_SECONDS, (PREFETCH_RETRIES + 1) * service.prefetch_seconds)


def _with_scratch(resources: dict[str, dict[str, str]], scratch: str) -> dict[str, dict[str, str]]:
    """``resources`` requesting and limited to the ``/tmp`` emptyDir's ephemeral storage."""
    return {key: {**values, "ephemeral-storage": scratch} for key, values in resources.items()}


def prefetch_job(service: ResolvedService, context: RenderContext, server_pod: dict[str, Any],
                 ) -> dict[str, Any] | None:
    """The Job that downloads the model at its revision (and the adapters) into the shared cache, then
    writes the marker the serving pods wait for; built from the server's pod so it runs as the server
    runs (identity, security context, cache mount, token)."""
    if service.strategy != LoadingStrategy.PREFETCH:
        return None
    server = server_pod["containers"][0]
    env = {name: value for name, value in managed_env(service).items()
           if name in ("HOME", "XDG_CACHE_HOME", "HF_HOME", "HF_TOKEN_PATH")}
    env.update(hidden_gpus_env(service.gpu.vendor))
    mounts = [mount for mount in server["volumeMounts"]
              if mount["mountPath"] in (CACHE_PATH, TMP_PATH, HF_TOKEN_DIR)]
    volumes = [volume for volume in server_pod["volumes"] if volume["name"] in {m["name"] for m in mounts}]
    container = {
        "name": PREFETCH_CONTAINER, "image": server["image"], "imagePullPolicy": server["imagePullPolicy"],
        "command": ["python3", "-c", _PREFETCH_SCRIPT,
                    json.dumps([*_wanted(service), prefetch_marker(service)], separators=(",", ":")),
                    json.dumps(WEIGHT_PATTERNS, separators=(",", ":"))],
        "env": [{"name": name, "value": value} for name, value in sorted(env.items())],
        "resources": _with_scratch(FETCH_RESOURCES, service.spec.storage.tmp_size),
        "securityContext": server["securityContext"], "volumeMounts": mounts,
    }
    pod: dict[str, Any] = {key: server_pod[key] for key in ("serviceAccountName", "automountServiceAccountToken",
                                                             "enableServiceLinks", "securityContext",
                                                             "imagePullSecrets") if key in server_pod}
    pod.update(restartPolicy="Never", containers=[container], volumes=volumes)
    template: dict[str, Any] = {"metadata": {"labels": prefetch_labels(service, context, prefetch_name(service))},
                                "spec": pod}
    spec = {"backoffLimit": PREFETCH_RETRIES, "activeDeadlineSeconds": prefetch_deadline(service),
            "template": template}
    name = f"{prefetch_name(service)}-{_digest(spec)[:8]}"  # a Job's template is immutable: a new one, a new Job
    template["metadata"]["labels"][INSTANCE_LABEL] = name
    annotations = {MODEL_ANNOTATION: f"{service.spec.model.id}@{service.spec.model.revision}",
                   PULUMI_TIMEOUT_ANNOTATION: str(prefetch_deadline(service))}
    reason = service.spec.image.unpinned_reason
    if reason:
        key, value = waiver_annotation(IMAGE_PINNING_RULE, (service.spec.image.reference,), reason)
        annotations[key] = value
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": context.namespace,
                     "labels": prefetch_labels(service, context, name), "annotations": annotations},
        "spec": spec,
    }
