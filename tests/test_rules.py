"""Every rule: the known-good fixture passes, and each mutation is caught with its exact message."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.rule_fixtures import DIGEST, REVISION, container, env_index, find, good_objects, lws_objects, pod
from vllm_infra.checker.rules import RULES, RuleContext, evaluate
from vllm_infra.checker.rules.simulated import UNVERIFIED
from vllm_infra.checker.rules.waivers import STALE_WAIVER
from vllm_infra.checker.runner import run_check
from vllm_infra.checker.simulation.scenarios import simulate_manifests
from vllm_infra.operations.simulate import cluster_of
from vllm_infra.spec.cluster import ClusterSpec
from vllm_infra.vocabulary.reporting import Profile

Objects = list[dict[str, Any]]
C0 = "spec.template.spec.containers[0]"
POD = "spec.template.spec"


def findings(objects: Objects, rule_id: str, profile: Profile = Profile.RESTRICTED) -> list[tuple[str, str, str]]:
    return [(f"{f.obj['kind']}/{f.obj['metadata']['name']}", _path(f.path), f.message)
            for f in evaluate(objects, [RULES[rule_id]], RuleContext(profile=profile))]


def _path(parts: tuple[str | int, ...]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def set_args(objects: Objects, old: str, new: str, name: str = "llama") -> None:
    args = container(objects, name)["args"]
    args[args.index(old)] = new


def add(objects: Objects, obj: dict[str, Any]) -> None:
    objects.append(obj)


def claim_gpus(objects: Objects, count: int) -> None:
    """The llama Deployment's GPUs through a DRA claim of ``count`` devices of gpu.nvidia.com."""
    resources = container(objects)["resources"]
    for section in ("requests", "limits"):
        resources[section].pop("nvidia.com/gpu")
    resources["claims"] = [{"name": "gpus"}]
    pod(objects)["resourceClaims"] = [{"name": "gpus", "resourceClaimTemplateName": "llama-gpus"}]
    objects.append({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaimTemplate",
                    "metadata": {"name": "llama-gpus", "namespace": "llm"},
                    "spec": {"spec": {"devices": {"requests": [{"name": "gpus", "exactly": {
                        "deviceClassName": "gpu.nvidia.com", "count": count}}]}}}})


def sa_binding(role_kind: str, role_name: str) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": f"{'Cluster' if role_kind == 'ClusterRole' else ''}"
            "RoleBinding", "metadata": {"name": "bind", "namespace": "llm"},
            "subjects": [{"kind": "ServiceAccount", "name": "llama", "namespace": "llm"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name}}


def min_available(objects: Objects, name: str, value: int) -> None:
    spec = find(objects, "PodDisruptionBudget", name)["spec"]
    spec.pop("maxUnavailable")
    spec["minAvailable"] = value


Mutation = Callable[[Objects], Any]
CASES: list[tuple[str, str, Mutation, list[tuple[str, str, str]]]] = [
    ("VI-SEC-001", "privileged", lambda o: container(o)["securityContext"].update(privileged=True),
     [("Deployment/llama", f"{C0}.securityContext.privileged", "container 'vllm' runs privileged")]),
    ("VI-SEC-002", "hostIPC for shm", lambda o: pod(o).update(hostIPC=True),
     [("Deployment/llama", f"{POD}.hostIPC", "pod shares the host's namespace (hostIPC: true)")]),
    ("VI-SEC-003", "escalation allowed", lambda o: container(o)["securityContext"].pop("allowPrivilegeEscalation"),
     [("Deployment/llama", f"{C0}.securityContext",
       "container 'vllm' does not set allowPrivilegeEscalation: false")]),
    ("VI-SEC-004", "no drop ALL, adds SYS_ADMIN",
     lambda o: container(o)["securityContext"].update(capabilities={"add": ["SYS_ADMIN", "IPC_LOCK"]}),
     [("Deployment/llama", f"{C0}.securityContext.capabilities", "container 'vllm' does not drop ALL capabilities"),
      ("Deployment/llama", f"{C0}.securityContext.capabilities.add",
       "container 'vllm' adds capabilities IPC_LOCK, SYS_ADMIN")]),
    ("VI-SEC-005", "root user, no fsGroup", lambda o: (
        pod(o)["securityContext"].update(runAsUser=0), pod(o)["securityContext"].pop("fsGroup"),
        container(o)["securityContext"].pop("runAsNonRoot"), pod(o)["securityContext"].pop("runAsNonRoot")),
     [("Deployment/llama", f"{POD}.securityContext", "container 'vllm' may run as root (runAsNonRoot is not true)"),
      ("Deployment/llama", f"{C0}.securityContext.runAsUser", "container 'vllm' sets runAsUser: 0"),
      ("Deployment/llama", f"{POD}.securityContext",
       "pod sets no fsGroup; mounted cache volumes may not be writable")]),
    ("VI-SEC-006", "Unconfined seccomp",
     lambda o: pod(o)["securityContext"].update(seccompProfile={"type": "Unconfined"}),
     [("Deployment/llama", f"{POD}.securityContext.seccompProfile",
       "container 'vllm' has seccomp profile Unconfined")]),
    ("VI-SEC-007", "hostPath cache", lambda o: pod(o)["volumes"].__setitem__(
        2, {"name": "model-cache", "hostPath": {"path": "/mnt/models"}}),
     [("Deployment/llama", f"{POD}.volumes[2]", "volume 'model-cache' uses hostPath")]),
    ("VI-SEC-008", "hostPort", lambda o: container(o)["ports"][0].update(hostPort=8000),
     [("Deployment/llama", f"{C0}.ports[0].hostPort", "container 'vllm' binds hostPort 8000")]),
    ("VI-SEC-008", "probe host override", lambda o: container(o)["readinessProbe"]["httpGet"].update(host="10.0.0.1"),
     [("Deployment/llama", f"{C0}.readinessProbe.httpGet.host",
       "readinessProbe of container 'vllm' targets another host")]),
    ("VI-SEC-009", "writable rootfs and cache on rootfs", lambda o: (
        container(o)["securityContext"].update(readOnlyRootFilesystem=False),
        container(o)["env"][env_index(o, "HF_HOME")].update(value="/root/.cache/huggingface")),
     [("Deployment/llama", f"{C0}.securityContext", "container 'vllm' has a writable root filesystem (set "
                                                    "readOnlyRootFilesystem: true or waive with a reason)")]),
    ("VI-SEC-009", "HOME unset, /tmp missing", lambda o: (
        container(o)["env"].pop(env_index(o, "HOME")),
        container(o)["volumeMounts"].pop(1)),
     [("Deployment/llama", f"{C0}.volumeMounts",
       "container 'vllm' has a read-only root filesystem, but vLLM would write under it: /tmp, HOME (unset), "
       "XDG_CACHE_HOME=/tmp/.cache, TRITON_CACHE_DIR=/tmp/triton, TORCHINDUCTOR_CACHE_DIR=/tmp/torchinductor, "
       "NUMBA_CACHE_DIR=/tmp/numba not on a writable mount")]),
    ("VI-SEC-009", "read-only HF cache without offline mode",
     lambda o: container(o)["volumeMounts"][2].update(readOnly=True),
     [("Deployment/llama", f"{C0}.volumeMounts",
       "container 'vllm' has a read-only root filesystem, but vLLM would write under it: "
       "HF_HOME=/model-cache/huggingface, VLLM_CACHE_ROOT=/model-cache/vllm not on a writable mount"),
      ("Deployment/llama", f"{C0}.volumeMounts[2].readOnly",
       "the Hugging Face cache is mounted read-only without HF_HUB_OFFLINE=1")]),
    ("VI-SEC-010", "literal token", lambda o: container(o)["env"].append({"name": "HF_TOKEN", "value": "hf_x"}),
     [("Deployment/llama", f"{C0}.env[10].value", "HF_TOKEN is a literal value; use valueFrom.secretKeyRef")]),
    ("VI-SEC-010", "Secret data in Git", lambda o: add(o, {"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "hf", "namespace": "llm"}, "stringData": {"token": "hf_x"}}),
     [("Secret/hf", "stringData", "Secret 'hf' carries stringData in the manifests")]),
    ("VI-SEC-010", "a token kept in a ConfigMap for envFrom", lambda o: add(o, {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "llm-env", "namespace": "llm"},
        "data": {"HF_HUB_OFFLINE": "0", "HF_TOKEN": "hf_x", "MODEL": "Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8"}}),
     [("ConfigMap/llm-env", "data.HF_TOKEN", "ConfigMap 'llm-env' holds a credential under HF_TOKEN; a ConfigMap "
       "is not a Secret: move it to one")]),
    ("VI-SEC-010", "a token read from a ConfigMap key", lambda o: container(o)["env"].append(
        {"name": "HF_TOKEN", "valueFrom": {"configMapKeyRef": {"name": "llm-env", "key": "token"}}}),
     [("Deployment/llama", f"{C0}.env[10].valueFrom", "HF_TOKEN is read from ConfigMap 'llm-env', which is not a "
       "Secret; use valueFrom.secretKeyRef")]),
    ("VI-SEC-011", "secret in env", lambda o: container(o)["env"].append(
        {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "api", "key": "key"}}}),
     [("Deployment/llama", f"{C0}.env[10]", "VLLM_API_KEY reads a Secret into the environment")]),
    ("VI-SEC-012", "default SA with token", lambda o: (
        pod(o).pop("serviceAccountName"), pod(o).pop("automountServiceAccountToken")),
     [("Deployment/llama", f"{POD}.serviceAccountName", "pod uses the namespace's default ServiceAccount"),
      ("Deployment/llama", f"{POD}.automountServiceAccountToken", "pod mounts a ServiceAccount token it does "
                                                                    "not need")]),
    ("VI-SEC-012", "missing SA object", lambda o: o.remove(find(o, "ServiceAccount", "llama")),
     [("Deployment/llama", f"{POD}.serviceAccountName", "ServiceAccount 'llama' is not part of the manifests")]),
    ("VI-SEC-013", "trust remote code, unpinned code revision",
     lambda o: container(o)["args"].append("--trust-remote-code"),
     [("Deployment/llama", f"{C0}.args", "--trust-remote-code runs repository code that is not pinned: set "
                                         "--code-revision to a commit hash"),
      ("Deployment/llama", f"{C0}.args", "--trust-remote-code executes Python from the model repository")]),
    ("VI-SEC-014", "hand-picked GPUs", lambda o: container(o)["env"].append(
        {"name": "CUDA_VISIBLE_DEVICES", "value": "1"}),
     [("Deployment/llama", f"{C0}.env[10]", "container 'vllm' sets CUDA_VISIBLE_DEVICES by hand")]),
    ("VI-SEC-014", "GPUs selected in a pod that requests none", lambda o: (
        container(o)["resources"]["limits"].pop("nvidia.com/gpu"), container(o)["resources"]["requests"].pop(
            "nvidia.com/gpu"), container(o)["env"].append({"name": "CUDA_VISIBLE_DEVICES", "value": "0"})),
     [("Deployment/llama", f"{C0}.env[10]", "container 'vllm' sets CUDA_VISIBLE_DEVICES by hand")]),
    ("VI-SEC-014", "sidecar sees all GPUs", lambda o: pod(o)["containers"].append(
        {"name": "proxy", "image": "envoyproxy/envoy:v1.31.0"}),
     [("Deployment/llama", "spec.template.spec.containers[1].env",
       "container 'proxy' has no GPU limit in a GPU pod and does not set NVIDIA_VISIBLE_DEVICES=void")]),
    ("VI-NET-001", "no NetworkPolicy", lambda o: o.remove(find(o, "NetworkPolicy", "llama")),
     [("Deployment/llama", "spec.template.metadata.labels",
       "pods are not isolated for Egress and Ingress by any NetworkPolicy")]),
    ("VI-NET-001", "open egress", lambda o: find(o, "NetworkPolicy", "llama")["spec"]["egress"].append({}),
     [("NetworkPolicy/llama", "spec.egress[2]", "NetworkPolicy rule egress[2] allows all destinations")]),
    ("VI-NET-002", "LoadBalancer", lambda o: find(o, "Service", "llama")["spec"].update(type="LoadBalancer"),
     [("Service/llama", "spec.type", "Service type LoadBalancer exposes the inference API outside the cluster")]),
    ("VI-DEL-001", "ServiceMonitor and Service select on the instance label", lambda o: (
        find(o, "ServiceMonitor", "llama")["spec"]["selector"]["matchLabels"].update(
            {"app.kubernetes.io/instance": "llama"}),
        find(o, "Service", "small")["spec"]["selector"].update({"app.kubernetes.io/instance": "small"})),
     [("Service/small", "spec.selector.app.kubernetes.io/instance", "selects pods on app.kubernetes.io/instance, a "
       "label Argo CD and Helm-style tooling manage; select on a label of your own"),
      ("ServiceMonitor/llama", "spec.selector.matchLabels.app.kubernetes.io/instance", "selects Services on "
       "app.kubernetes.io/instance, which Argo CD label tracking overwrites with the Application name: the Services "
       "are no longer found")]),
    ("VI-NET-003", "selector typo", lambda o: find(o, "Service", "llama")["spec"]["selector"].update(
        {"vllm-infra.io/service": "lama"}),
     [("Service/llama", "spec.selector", "Service selects no pods in the manifests")]),
    ("VI-NET-003", "targetPort typo", lambda o: find(o, "Service", "llama")["spec"]["ports"][0].update(
        targetPort="htp"),
     [("Service/llama", "spec.ports[0].targetPort", "targetPort 'htp' is not a port name of the selected containers")]),
    ("VI-NET-003", "numeric targetPort nothing listens on", lambda o: find(o, "Service", "llama")["spec"]["ports"][
        0].update(targetPort=8080),
     [("Service/llama", "spec.ports[0].targetPort", "targetPort 8080 is not declared by the selected containers and "
                                                    "vLLM listens on 8000: nothing listens there")]),
    ("VI-NET-003", "monitor port typo", lambda o: find(o, "ServiceMonitor", "llama")["spec"]["endpoints"][0].update(
        port="metrics"),
     [("ServiceMonitor/llama", "spec.endpoints[0].port",
       "endpoint port 'metrics' is not a port of the selected Service")]),
    ("VI-NET-003", "monitor selector typo", lambda o: find(o, "ServiceMonitor", "llama")["spec"]["selector"][
        "matchLabels"].update({"app.kubernetes.io/instance": "lama"}),
     [("ServiceMonitor/llama", "spec.selector", "ServiceMonitor selects no Service in the manifests")]),
    ("VI-NET-004", "a Service named vllm beside a pod with service links on", lambda o: (
        pod(o).pop("enableServiceLinks"),
        add(o, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "vllm", "namespace": "llm"},
                "spec": {"selector": {"app": "other"}, "ports": [{"port": 8000}]}})),
     [("Deployment/llama", f"{POD}.enableServiceLinks", "Service vllm injects VLLM_PORT into this vLLM pod (service "
       "links are on), which vLLM reads as its own setting and rejects at start")]),
    ("VI-NET-006", "pool selects nothing, wrong target port", lambda o: (
        find(o, "InferencePool", "llama")["spec"]["selector"]["matchLabels"].update(
            {"app.kubernetes.io/instance": "lama"})),
     [("InferencePool/llama", "spec.selector", "InferencePool selects no pods in the manifests")]),
    ("VI-NET-006", "pool targets a port the pods do not open",
     lambda o: find(o, "InferencePool", "llama")["spec"]["targetPorts"][0].update(number=9000),
     [("InferencePool/llama", "spec.targetPorts[0].number", "target port 9000 is not a port of the selected pods")]),
    ("VI-NET-006", "endpoint picker port mismatch", lambda o: add(o, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "llm-epp", "namespace": "llm"},
        "spec": {"selector": {"app": "epp"}, "ports": [{"name": "grpc", "port": 9003}]}}),
     [("InferencePool/llama", "spec.endpointPickerRef.port", "endpoint picker Service llm-epp has no port 9002")]),
    ("VI-NET-007", "a second model routed on / of the same Gateway", lambda o: add(o, {
        **copy.deepcopy(find(o, "HTTPRoute", "llama")), "metadata": {"name": "small", "namespace": "llm"}}),
     [("HTTPRoute/small", "spec.rules[0].matches[0]", "claims the same requests as HTTPRoute llama on Gateway "
       "gateway/gw (PathPrefix /, equally specific hostnames): only one of them is used")]),
    ("VI-NET-007", "the same wildcard hostname on both routes", lambda o: (
        find(o, "HTTPRoute", "llama")["spec"].update(hostnames=["*.example.com", "llm.example.com"]),
        add(o, {**copy.deepcopy(find(o, "HTTPRoute", "llama")), "metadata": {"name": "small", "namespace": "llm"}}),
        find(o, "HTTPRoute", "small")["spec"].update(hostnames=["*.example.com"])),
     [("HTTPRoute/small", "spec.rules[0].matches[0]", "claims the same requests as HTTPRoute llama on Gateway "
       "gateway/gw (PathPrefix /, equally specific hostnames): only one of them is used")]),
    ("VI-NET-006", "route to a missing pool", lambda o: find(o, "HTTPRoute", "llama")["spec"]["rules"][0][
        "backendRefs"][0].update(name="llama-pool"),
     [("HTTPRoute/llama", "spec.rules[0].backendRefs[0]", "backendRef InferencePool/llama-pool is not in the "
                                                           "manifests")]),
    ("VI-NET-006", "route to a Service port that does not exist", lambda o: find(o, "HTTPRoute", "llama")["spec"][
        "rules"][0].update(backendRefs=[{"name": "small", "port": 80}]),
     [("HTTPRoute/llama", "spec.rules[0].backendRefs[0]", "Service small has no port 80")]),
    ("VI-RES-001", "GPU request only", lambda o: container(o)["resources"]["limits"].pop("nvidia.com/gpu"),
     [("Deployment/llama", f"{C0}.resources.limits",
       "nvidia.com/gpu is requested but not limited (extended resources need a limit)")]),
    ("VI-RES-001", "request differs", lambda o: container(o)["resources"]["requests"].update({"nvidia.com/gpu": 1}),
     [("Deployment/llama", f"{C0}.resources.requests.nvidia.com/gpu", "nvidia.com/gpu request 1 differs from "
                                                                        "limit 2")]),
    ("VI-RES-001", "no GPU at all", lambda o: (container(o)["resources"]["limits"].pop("nvidia.com/gpu"),
                                               container(o)["resources"]["requests"].pop("nvidia.com/gpu")),
     [("Deployment/llama", f"{C0}.resources", f"container 'vllm' requests no GPU, but its image "
                                              f"'vllm/vllm-openai:v0.18.1@{DIGEST}' is a CUDA build of vLLM (serve on "
                                              "CPUs with the CPU build, e.g. vllm/vllm-openai-cpu)")]),
    ("VI-RES-002", "memory below shm + headroom", lambda o: (
        container(o)["resources"]["limits"].update(memory="10Gi"),
        container(o)["resources"]["requests"].update(memory="8Gi")),
     [("Deployment/llama", f"{C0}.resources.requests.memory", "memory request differs from the limit"),
      ("Deployment/llama", f"{C0}.resources.limits.memory",
       "memory limit 10Gi cannot hold 4Gi of memory-backed volumes + 8.0 GiB for the vLLM processes")]),
    ("VI-RES-002", "a CPU KV-cache tier the limit does not hold", lambda o: container(o)["args"].append(
        "--kv-offloading-size=200"),
     [("Deployment/llama", f"{C0}.resources.limits.memory",
       "memory limit 144Gi cannot hold 4Gi of memory-backed volumes + 8.0 GiB for the vLLM processes + 200.0 GiB of "
       "CPU KV cache (--kv-offloading-size)")]),
    ("VI-CAP-001", "a context the KV cache cannot hold", lambda o: set_args(
        o, "--max-model-len=16384", "--max-model-len=131072"),
     [("Deployment/llama", f"{C0}.args",
       "meta-llama/Llama-3.1-70B-Instruct (TP=2, PP=1, vLLM 0.18.1) on 2 x H100-80GB does not fit: after 65.7 GiB of "
       "weights and 1.7 GiB of overhead in the 71.3 GiB budget (79.2 GiB usable on a H100-80GB x "
       "gpu_memory_utilization 0.9), 3.8 GiB of KV cache holds 24992 tokens (160 KiB per token and GPU), fewer than "
       "max_model_len 131072. Fits with: --tensor-parallel-size=4; GPU type H200; --max-model-len=22528; "
       "--quantization=fp8")]),
    ("VI-CAP-001", "within the margin", lambda o: set_args(o, "--max-model-len=16384", "--max-model-len=24576"),
     [("Deployment/llama", f"{C0}.args",
       "tight: meta-llama/Llama-3.1-70B-Instruct (TP=2, PP=1, vLLM 0.18.1) on 2 x H100-80GB: after 65.7 GiB of "
       "weights and 1.7 GiB of overhead in the 71.3 GiB budget (79.2 GiB usable on a H100-80GB x "
       "gpu_memory_utilization 0.9), 3.8 GiB of KV cache holds 24992 tokens (160 KiB per token and GPU), less than "
       "1.1 x max_model_len 24576")]),
    ("VI-CAP-001", "no GPU type pinned", lambda o: pod(o).pop("affinity"),
     [("Deployment/llama", f"{C0}.resources",
       "the pod pins no GPU type and meta-llama/Llama-3.1-70B-Instruct fits only on A100-80GB, H100-80GB, H200, B200: "
       "meta-llama/Llama-3.1-70B-Instruct (TP=2, PP=1, vLLM 0.18.1) on 2 x T4: 65.7 GiB of weights plus 1.7 GiB of "
       "runtime overhead exceed the 12.9 GiB budget (14.4 GiB usable on a T4 x gpu_memory_utilization 0.9). Pin a GPU "
       "type with a node selector (nvidia.com/gpu.product, cloud.google.com/gke-accelerator, "
       "karpenter.k8s.aws/instance-gpu-name or an instance type)")]),
    ("VI-CAP-001", "a --quantization the checkpoint's format refuses", lambda o: (
        set_args(o, "meta-llama/Llama-3.1-70B-Instruct", "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4"),
        container(o)["args"].append("--quantization=gptq")),
     [("Deployment/llama", f"{C0}.args", "vLLM refuses to start: the checkpoint of "
       "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4 is awq, and vLLM refuses --quantization gptq for it "
       "(leave the flag out: vLLM reads the format from the checkpoint)")]),
    ("VI-CAP-002", "a model outside the catalog", lambda o: set_args(
        o, "meta-llama/Llama-3.1-70B-Instruct", "acme/in-house-70b"),
     [("Deployment/llama", f"{C0}.args", "memory fit not checked: acme/in-house-70b is not in the model catalog")]),
    ("VI-CAP-002", "a quantization format the estimate does not size", lambda o: container(o)["args"].append(
        "--quantization=gguf"),
     [("Deployment/llama", f"{C0}.args", "memory fit not checked: meta-llama/Llama-3.1-70B-Instruct: the size of "
       "gguf weights is not modelled")]),
    ("VI-CAP-002", "the model from a variable nothing defines", lambda o: set_args(
        o, "meta-llama/Llama-3.1-70B-Instruct", "$(MODEL_ID)"),
     [("Deployment/llama", f"{C0}.args", "memory fit not checked: the model is not named in the server's arguments "
       "($(MODEL_ID))")]),
    ("VI-RES-003", "no CPU request", lambda o: container(o)["resources"]["requests"].pop("cpu"),
     [("Deployment/llama", f"{C0}.resources", "container 'vllm' requests no CPU")]),
    ("VI-RES-004", "unbounded disk emptyDir", lambda o: (
        pod(o)["volumes"][1]["emptyDir"].pop("sizeLimit"),
        container(o)["resources"]["limits"].pop("ephemeral-storage")),
     [("Deployment/llama", f"{POD}.volumes[1].emptyDir", "emptyDir 'tmp' has no sizeLimit"),
      ("Deployment/llama", f"{C0}.resources.limits",
       "no ephemeral-storage limit although disk emptyDirs are mounted")]),
    ("VI-RES-005", "shm larger than memory", lambda o: pod(o)["volumes"][0]["emptyDir"].update(sizeLimit="500Gi"),
     [("Deployment/llama", f"{C0}.resources.limits.memory",
       "memory-backed volumes (500Gi) do not fit in the memory limit (144Gi)")]),
    ("VI-RES-005", "unbounded shm", lambda o: pod(o)["volumes"][0]["emptyDir"].pop("sizeLimit"),
     [("Deployment/llama", f"{POD}.volumes[0].emptyDir", "memory-backed emptyDir 'dshm' has no sizeLimit")]),
    ("VI-GPU-001", "TP=2 without shm", lambda o: container(o)["volumeMounts"].pop(0),
     [("Deployment/llama", f"{C0}.volumeMounts", "container 'vllm' has no memory-backed /dev/shm (the container "
       "runtime's 64 MiB default makes NCCL fail)")]),
    ("VI-GPU-001", "TP=2 with a disk emptyDir on /dev/shm", lambda o: pod(o)["volumes"][0]["emptyDir"].pop("medium"),
     [("Deployment/llama", f"{C0}.volumeMounts", "container 'vllm' has no memory-backed /dev/shm (the container "
       "runtime's 64 MiB default makes NCCL fail)")]),
    ("VI-GPU-002", "TP x PP != GPUs", lambda o: set_args(o, "--tensor-parallel-size=2", "--tensor-parallel-size=4"),
     [("Deployment/llama", f"{C0}.args", "TP x PP = 4 but the group has 2 GPUs per pod = 2")]),
    ("VI-GPU-003", "no toleration, no GPU affinity", lambda o: (pod(o).pop("tolerations"), pod(o).pop("affinity")),
     [("Deployment/llama", f"{POD}.tolerations", "pod does not tolerate the GPU node taint"),
      ("Deployment/llama", f"{POD}.affinity", "pod does not pin the GPU model it was sized for")]),
    ("VI-GPU-002", "TP does not divide the attention heads", lambda o: (
        set_args(o, "--tensor-parallel-size=2", "--tensor-parallel-size=3"),
        container(o)["resources"]["limits"].update({"nvidia.com/gpu": 3}),
        container(o)["resources"]["requests"].update({"nvidia.com/gpu": 3})),
     [("Deployment/llama", f"{C0}.args", "--tensor-parallel-size 3 does not divide the 64 attention heads of "
                                         "meta-llama/Llama-3.1-70B-Instruct")]),
    ("VI-GPU-004", "a utilisation that leaves no room for the CUDA context",
     lambda o: set_args(o, "--gpu-memory-utilization=0.9", "--gpu-memory-utilization=0.995"),
     [("Deployment/llama", f"{C0}.args", "--gpu-memory-utilization 0.995 leaves 0.4 GiB of a H100-80GB outside "
                                         "vLLM's budget, less than the CUDA context of each worker (0.5 GiB)")]),
    ("VI-GPU-004", "a utilisation vLLM refuses",
     lambda o: set_args(o, "--gpu-memory-utilization=0.9", "--gpu-memory-utilization=1.5"),
     [("Deployment/llama", f"{C0}.args", "--gpu-memory-utilization 1.5 is outside (0, 1]: vLLM refuses to start")]),
    ("VI-GPU-005", "surge without spare GPUs", lambda o: find(o, "Deployment", "llama")["spec"]["strategy"].update(
        rollingUpdate={"maxSurge": 1, "maxUnavailable": 0}),
     [("Deployment/llama", "spec.strategy", "maxSurge 1 needs 2 spare GPUs during a rollout but 0 are declared; "
                                            "the surge pod would stay Pending" f" ({UNVERIFIED})")]),
    ("VI-GPU-005", "both zero", lambda o: find(o, "Deployment", "llama")["spec"]["strategy"].update(
        rollingUpdate={"maxSurge": 0, "maxUnavailable": "25%"}),
     [("Deployment/llama", "spec.strategy", "maxSurge and maxUnavailable both resolve to 0 at 2 replica(s); the "
                                            "rollout can never start" f" ({UNVERIFIED})")]),
    ("VI-GPU-005", "default strategy (25% surge)", lambda o: find(o, "Deployment", "small")["spec"].pop("strategy"),
     [("Deployment/small", "spec.strategy", "maxSurge 25% needs 1 spare GPUs during a rollout but 0 are declared; "
                                            "the surge pod would stay Pending" f" ({UNVERIFIED})")]),
    ("VI-PRB-001", "no startup probe", lambda o: container(o).pop("startupProbe"),
     [("Deployment/llama", C0, "container 'vllm' has no startupProbe; liveness (initialDelaySeconds 0 + 3 x 20s) "
                               "kills the server after 60s, before the 840s load budget")]),
    ("VI-PRB-001", "budget too short", lambda o: container(o)["startupProbe"].update(failureThreshold=30),
     [("Deployment/llama", f"{C0}.startupProbe", "startupProbe allows 300s, less than the 840s load budget")]),
    ("VI-PRB-002", "identical liveness", lambda o: container(o).update(
        livenessProbe=dict(container(o)["readinessProbe"])),
     [("Deployment/llama", f"{C0}.livenessProbe", "livenessProbe is identical to readinessProbe")]),
    ("VI-PRB-002", "aggressive liveness", lambda o: container(o)["livenessProbe"].update(
        periodSeconds=1, timeoutSeconds=1, failureThreshold=5),
     [("Deployment/llama", f"{C0}.livenessProbe",
       "livenessProbe restarts the server after a 5s stall (failureThreshold 5 x periodSeconds 1, timeoutSeconds 1): "
       "too aggressive for a server busy with long prefills; allow at least 30s")]),
    ("VI-PRB-002", "flapping readiness", lambda o: container(o)["readinessProbe"].update(failureThreshold=1),
     [("Deployment/llama", f"{C0}.readinessProbe.failureThreshold",
       "readinessProbe failureThreshold 1: a single failure (one slow /health under load) takes the pod out of its "
       "Service, and it flaps")]),
    ("VI-PRB-002", "readiness on the wrong path", lambda o: container(o)["readinessProbe"]["httpGet"].update(
        path="/metrics"),
     [("Deployment/llama", f"{C0}.readinessProbe", "readinessProbe is not an httpGet on /health at the API port")]),
    ("VI-PRB-002", "twitchy liveness", lambda o: container(o)["livenessProbe"].update(failureThreshold=1),
     [("Deployment/llama", f"{C0}.livenessProbe.failureThreshold",
       "livenessProbe restarts after fewer than 3 failures (a restart reloads the model)")]),
    ("VI-PRB-003", "probe port typo", lambda o: container(o)["startupProbe"]["httpGet"].update(port="api"),
     [("Deployment/llama", f"{C0}.startupProbe.httpGet.port",
       "startupProbe targets port 'api', which the container does not declare")]),
    ("VI-PRB-002", "liveness asks for a completion", lambda o: container(o).update(livenessProbe={
        "exec": {"command": ["sh", "-c", "curl -sf -X POST http://localhost:8000/v1/completions -d "
                             "'{\"prompt\": \"hi\", \"max_tokens\": 1}'"]},
        "periodSeconds": 30, "failureThreshold": 3}),
     [("Deployment/llama", f"{C0}.livenessProbe", "livenessProbe asks the model for work "
       "(http://localhost:8000/v1/completions): it waits in the scheduler's queue behind real requests, so under "
       "load it times out and the kubelet restarts a busy, healthy server; probe /health")]),
    ("VI-PRB-003", "preStop polls a port nothing listens on", lambda o: container(o)["lifecycle"].update(preStop={
        "exec": {"command": ["sh", "-c", "sleep 10; while curl -s http://127.0.0.1:8080/metrics | grep -q "
                             "'num_requests_running{.*} [1-9]'; do sleep 2; done"]}}),
     [("Deployment/llama", f"{C0}.lifecycle.preStop", "preStop calls port 8080 (http://127.0.0.1:8080/metrics), "
       "where nothing in the pod listens: vLLM serves on 8000")]),
    ("VI-PRB-004", "no preStop, short grace, no shutdown timeout", lambda o: (
        container(o).pop("lifecycle"), pod(o).update(terminationGracePeriodSeconds=30),
        container(o)["args"].remove("--shutdown-timeout=60")),
     [("Deployment/llama", f"{C0}.lifecycle", "no preStop sleep; new requests still arrive after SIGTERM"),
      ("Deployment/llama", f"{POD}.terminationGracePeriodSeconds", "terminationGracePeriodSeconds 30 < 60 "
       "(preStop 0s + shutdown timeout 0s + 5s, at least 60s)"),
      ("Deployment/llama", f"{C0}.args", "--shutdown-timeout is not set: SIGTERM aborts in-flight requests")]),
    ("VI-PRB-005", "shell without exec", lambda o: container(o).update(
        command=["/bin/sh", "-c"], args=["vllm serve meta-llama/Llama-3.1-70B-Instruct --tensor-parallel-size=2"]),
     [("Deployment/llama", f"{C0}.args", "the shell stays PID 1, so SIGTERM never reaches vLLM (use exec)")]),
    ("VI-IMG-001", "latest", lambda o: container(o).update(image="vllm/vllm-openai:latest"),
     [("Deployment/llama", f"{C0}.image", "image vllm/vllm-openai:latest floats (no tag, or a moving tag such as "
                                          "'latest' or 'nightly')")]),
    ("VI-IMG-001", "a moving variant tag", lambda o: container(o).update(image="vllm/vllm-openai:latest-cu128"),
     [("Deployment/llama", f"{C0}.image", "image vllm/vllm-openai:latest-cu128 floats (no tag, or a moving tag such "
                                          "as 'latest' or 'nightly')")]),
    ("VI-IMG-001", "tag without digest", lambda o: container(o).update(image="vllm/vllm-openai:v0.18.1"),
     [("Deployment/llama", f"{C0}.image", "image vllm/vllm-openai:v0.18.1 is not pinned by digest")]),
    ("VI-VER-001", "a tag vLLM never published", lambda o: container(o).update(image="vllm/vllm-openai:v0.18.2"),
     [("Deployment/llama", f"{C0}.image", "vllm/vllm-openai:v0.18.2: vLLM 0.18.2 was never released (releases "
                                          "0.18.x: 0.18.0, 0.18.1; newest 0.33.0)")]),
    ("VI-VER-002", "a removed flag, spelled with underscores", lambda o: container(o)["args"].append(
        "--disable_log_requests"),
     [("Deployment/llama", f"{C0}.args", "--disable_log_requests is not a flag of vLLM 0.18.1 (removed in 0.17.0); "
                                         "did you mean --enable-log-requests?")]),
    ("VI-VER-002", "a flag of a later release", lambda o: container(o).update(image="vllm/vllm-openai:v0.11.0"),
     [("Deployment/llama", f"{C0}.args", "--shutdown-timeout is not a flag of vLLM 0.11.0 (added in 0.18.0)")]),
    ("VI-VER-002", "a switch given a value", lambda o: container(o)["args"].extend(["--enforce-eager", "true"]),
     [("Deployment/llama", f"{C0}.args", "--enforce-eager true: --enforce-eager is a switch in vLLM 0.18.1; 'true' "
                                         "becomes an unrecognized argument")]),
    ("VI-VER-002", "a value outside the choices", lambda o: container(o)["args"].extend(["--dtype", "fp4"]),
     [("Deployment/llama", f"{C0}.args", "--dtype fp4: vLLM 0.18.1 accepts auto, bfloat16, float, float16, float32, "
                                         "half")]),
    ("VI-SEC-015", "unmasked /proc and an unconfined AppArmor profile", lambda o: (
        container(o)["securityContext"].update(procMount="Unmasked", appArmorProfile={"type": "Unconfined"}),
        pod(o)["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "65536"}],
                                         seLinuxOptions={"type": "spc_t"})),
     [("Deployment/llama", "spec.template.spec.securityContext.seLinuxOptions.type", "pod runs as SELinux type spc_t"),
      ("Deployment/llama", f"{C0}.securityContext.procMount", "container 'vllm' unmasks /proc (procMount: Unmasked)"),
      ("Deployment/llama", f"{C0}.securityContext.appArmorProfile.type",
       "container 'vllm' runs without AppArmor (Unconfined)"),
      ("Deployment/llama", "spec.template.spec.securityContext.sysctls[0]",
       "sysctl kernel.msgmax is not in the Pod Security safe set")]),
    ("VI-SEC-016", "a namespace that enforces baseline", lambda o: find(o, "Namespace", "llm")["metadata"][
        "labels"].update({"pod-security.kubernetes.io/enforce": "baseline"}),
     [("Namespace/llm", "metadata.labels", "namespace llm enforces baseline Pod Security level (restricted "
                                          "expected under the restricted profile)")]),
    ("VI-SEC-017", "IPC_LOCK in a namespace that enforces restricted", lambda o: container(o)["securityContext"][
        "capabilities"].update(add=["IPC_LOCK"]),
     [("Deployment/llama", f"{C0}.securityContext.capabilities.add", "namespace llm enforces the restricted Pod "
       "Security level, which refuses this pod: container 'vllm' adds IPC_LOCK")]),
    ("VI-RES-007", "a MIG slice requested below its limit", lambda o: (
        container(o, "small")["resources"]["limits"].update({"nvidia.com/mig-3g.40gb": 2}),
        container(o, "small")["resources"]["requests"].update({"nvidia.com/mig-3g.40gb": 1})),
     [("Deployment/small", f"{C0}.resources.requests.nvidia.com/mig-3g.40gb",
       "nvidia.com/mig-3g.40gb request 1 differs from its limit 2")]),
    ("VI-IMG-002", "floating model", lambda o: container(o)["args"].remove(f"--revision={REVISION}"),
     [("Deployment/llama", f"{C0}.args", "model meta-llama/Llama-3.1-70B-Instruct is not pinned to a commit "
                                         "(--revision)")]),
    ("VI-IMG-002", "weights read from object storage", lambda o: set_args(
        o, "meta-llama/Llama-3.1-70B-Instruct", "s3://models/llama-70b"),
     [("Deployment/llama", f"{C0}.args", "model s3://models/llama-70b is read from object storage, which no "
                                         "revision pins: the weights change when the objects do")]),
    ("VI-IMG-001", "a model image volume on a moving tag", lambda o: pod(o)["volumes"].append(
        {"name": "weights", "image": {"reference": "registry.example.com/models/llama-70b:latest"}}),
     [("Deployment/llama", f"{POD}.volumes[4].image.reference", "image registry.example.com/models/llama-70b:latest "
                                                              "floats (no tag, or a moving tag such as 'latest' or "
                                                              "'nightly')")]),
    ("VI-SCH-006", "a Kubernetes kind at a version the release lacks", lambda o: find(o, "Deployment", "llama").update(
        apiVersion="apps/v1beta2"),
     [("Deployment/llama", "apiVersion", "Kubernetes 1.33 defines Deployment in apps/v1, not apps/v1beta2: the API "
                                        "server refuses it")]),
    ("VI-GPU-006", "a DRA claim of fewer GPUs than TP x PP", lambda o: claim_gpus(o, 1),
     [("Deployment/llama", f"{POD}.resourceClaims", "the pod's DRA claims hand out 1 GPU(s) of a GPU DeviceClass, but "
                                                   "vLLM uses 2 on this pod (TP x PP x DP over --nnodes)")]),
    ("VI-IMG-004", "an image volume on Kubernetes 1.33", lambda o: pod(o)["volumes"].append(
        {"name": "weights", "image": {"reference": f"registry.example.com/models/llama-70b@{DIGEST}"}}),
     [("Deployment/llama", f"{POD}.volumes[4].image",
       "volume 'weights' is an image volume, off by default on Kubernetes 1.33 (on from 1.35): the API server refuses "
       "the pod")]),
    ("VI-AVL-001", "PDB missing", lambda o: o.remove(find(o, "PodDisruptionBudget", "llama")),
     [("Deployment/llama", "metadata.name", "0 PodDisruptionBudgets select this workload (none)")]),
    ("VI-AVL-002", "minAvailable at min scale", lambda o: min_available(o, "llama", 2),
     [("PodDisruptionBudget/llama", "spec.minAvailable",
       f"minAvailable 2 is not below the minimum scale 2 of llama ({UNVERIFIED})")]),
    ("VI-AVL-002", "maxUnavailable 0", lambda o: find(o, "PodDisruptionBudget", "small")["spec"].update(
        maxUnavailable=0),
     [("PodDisruptionBudget/small", "spec.maxUnavailable", "maxUnavailable 0 blocks every drain")]),
    ("VI-AVL-003", "unhealthy pods protected",
     lambda o: find(o, "PodDisruptionBudget", "llama")["spec"].pop("unhealthyPodEvictionPolicy"),
     [("PodDisruptionBudget/llama", "spec",
       "unhealthy pods are protected too (unhealthyPodEvictionPolicy is not AlwaysAllow)")]),
    ("VI-AVL-004", "one replica, no spread", lambda o: (
        find(o, "Deployment", "small")["spec"].update(replicas=1),
        pod(o, "small")["topologySpreadConstraints"].pop(0)),
     [("Deployment/small", "spec", "fewer than 2 replicas: one node or GPU failure is an outage"),
      ("Deployment/small", POD, "replicas are not spread over nodes")]),
    ("VI-AVL-005", "dangling and duplicate autoscalers", lambda o: (
        add(o, {**find(o, "HorizontalPodAutoscaler", "llama"), "metadata": {"name": "llama-2", "namespace": "llm"}}),
        add(o, {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {
            "name": "ghost", "namespace": "llm"}, "spec": {"scaleTargetRef": {
                "apiVersion": "apps/v1", "kind": "Deployment", "name": "ghost"}, "maxReplicas": 2}})),
     [("HorizontalPodAutoscaler/ghost", "spec.scaleTargetRef",
       "scaleTargetRef Deployment/ghost is not in the manifests"),
      ("Deployment/llama", "metadata.name",
       "2 autoscalers target this workload (HorizontalPodAutoscaler/llama, HorizontalPodAutoscaler/llama-2)")]),
    ("VI-AVL-006", "replicas fight the HPA", lambda o: find(o, "Deployment", "llama")["spec"].update(replicas=2),
     [("Deployment/llama", "spec.replicas",
       "spec.replicas is set although an autoscaler owns it; every apply resets the scale")]),
    ("VI-AVL-007", "CPU HPA, fast scale-down", lambda o: find(o, "HorizontalPodAutoscaler", "llama")["spec"].update(
        metrics=[{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 80}}}],
        behavior={"scaleDown": {"stabilizationWindowSeconds": 60}}),
     [("HorizontalPodAutoscaler/llama", "spec", "no vLLM saturation metric: CPU/memory/GPU utilisation lag LLM load"),
      ("HorizontalPodAutoscaler/llama", "spec.metrics[0]", "scales on Resource cpu; GPU pods are not CPU-bound"),
      ("HorizontalPodAutoscaler/llama", "spec",
       "scale-down stabilization 60s < 300s removes warm GPU pods on short dips"),
      ("HorizontalPodAutoscaler/llama", "spec",
       "no scaleUp behavior: scale-up may add pods every 15s, faster than a pod starts (~840s)")]),
    ("VI-AVL-007", "renamed KV metric", lambda o: (
        find(o, "HorizontalPodAutoscaler", "llama")["spec"]["metrics"][0]["pods"]["metric"].update(
            name="vllm_gpu_cache_usage_perc"),
        find(o, "HorizontalPodAutoscaler", "llama")["spec"].update(maxReplicas=2)),
     [("HorizontalPodAutoscaler/llama", "spec.metrics[0]",
       "vllm:gpu_cache_usage_perc is not emitted by vLLM 0.18.1, so the autoscaler would see no data; use "
       "vllm:kv_cache_usage_perc"),
      ("HorizontalPodAutoscaler/llama", "spec", "maxReplicas 2 <= minReplicas 2: nothing to scale")]),
    ("VI-AVL-007", "scale-to-zero without an activator", lambda o: add(o, {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "small", "namespace": "llm"},
        "spec": {"scaleTargetRef": {"name": "small"}, "minReplicaCount": 0, "maxReplicaCount": 2,
                 "cooldownPeriod": 900,
                 "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {"scaleUp": {"policies": [
                     {"type": "Pods", "value": 1, "periodSeconds": 600}]}}}},
                 "triggers": [{"type": "prometheus", "metadata": {
                     "serverAddress": "http://prometheus:9090", "query": "sum(vllm:num_requests_waiting)",
                     "threshold": "5"}}]}}),
     [("ScaledObject/small", "spec.triggers", "scale-to-zero without an activator: at 0 replicas vLLM emits no "
                                              "metrics, so no trigger can wake the service")]),
    ("VI-AVL-007", "a cooldown that scales a loading pod back to zero", lambda o: add(o, {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "small", "namespace": "llm"},
        "spec": {"scaleTargetRef": {"name": "small"}, "minReplicaCount": 0, "maxReplicaCount": 2,
                 "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {"scaleUp": {"policies": [
                     {"type": "Pods", "value": 1, "periodSeconds": 600}]}}}},
                 "triggers": [{"type": "prometheus", "metadata": {
                     "serverAddress": "http://prometheus:9090", "query": "sum(vllm:num_requests_waiting)",
                     "threshold": "5"}}, {"type": "prometheus", "metadata": {
                         "serverAddress": "http://prometheus:9090", "threshold": "1",
                         "query": "sum(rate(envoy_cluster_upstream_rq_total{cluster='small'}[1m]))"}}]}}),
     [("ScaledObject/small", "spec.cooldownPeriod", "cooldownPeriod 300s is shorter than the ~600s a pod takes to "
       "start: a pod still loading emits no metrics, and KEDA scales it back to zero before it serves")]),
    ("VI-AVL-008", "no priority class", lambda o: pod(o).pop("priorityClassName"),
     [("Deployment/llama", f"{POD}.priorityClassName", "no priorityClassName")]),
    ("VI-AVL-009", "RWO cache on autoscaled workload",
     lambda o: find(o, "PersistentVolumeClaim", "llama-model-cache")["spec"].update(accessModes=["ReadWriteOnce"]),
     [("PersistentVolumeClaim/llama-model-cache", "spec.accessModes",
       "ReadWriteOnce claim is mounted by Deployment/llama but it is autoscaled to up to 4 replicas")]),
    ("VI-AVL-010", "selector does not match template", lambda o: find(o, "Deployment", "small")["spec"][
        "selector"]["matchLabels"].update({"app.kubernetes.io/instance": "smol"}),
     [("Deployment/small", "spec.selector", "the selector does not match the pod template labels")]),
    ("VI-AVL-010", "PDB selects nothing", lambda o: find(o, "PodDisruptionBudget", "small")["spec"].update(
        selector={"matchLabels": {"app": "small"}}),
     [("PodDisruptionBudget/small", "spec.selector", "PodDisruptionBudget selects no pods in the manifests")]),
    ("VI-RBAC-001", "cluster-admin", lambda o: add(o, sa_binding("ClusterRole", "cluster-admin")),
     [("ClusterRoleBinding/bind", "roleRef", "binds cluster-admin to the vLLM ServiceAccount")]),
    ("VI-RBAC-001", "secret reader", lambda o: (
        add(o, sa_binding("Role", "reader")),
        add(o, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {
            "name": "reader", "namespace": "llm"}, "rules": [{"apiGroups": [""], "resources": ["secrets"],
                                                               "verbs": ["get"]}]})),
     [("Role/reader", "rules[0]", "Role/reader bound to the vLLM ServiceAccount: reads Secrets")]),
    ("VI-SCH-001", "typo in a field", lambda o: container(o).update(startupprobe={}),
     [("Deployment/llama", C0, "Additional properties are not allowed ('startupprobe' was unexpected)")]),
    ("VI-SCH-001", "Secret data that is not base64", lambda o: add(o, {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "llm"},
        "data": {"token": "$(HF_TOKEN)", "ok": "aGY=\n"}}),
     [("Secret/s", "data.token", "data.token is not valid base64: the API server rejects the object (put plain text "
                                 "under stringData)")]),
    ("VI-SCH-006", "kind without schema", lambda o: add(o, {"apiVersion": "example.com/v1", "kind": "Widget",
                                                            "metadata": {"name": "w", "namespace": "llm"}}),
     [("Widget/w", "kind", "no schema for Widget (example.com/v1) in Kubernetes 1.33, the vendored CRDs or the "
                           "--schema-dir schemas: the object was not validated")]),
    ("VI-ENV-001", "shell-style reference in env", lambda o: container(o)["env"].append(
        {"name": "LD_LIBRARY_PATH", "value": "${LD_LIBRARY_PATH}:/usr/local/nvidia/lib64"}),
     [("Deployment/llama", f"{C0}.env[10].value", "env LD_LIBRARY_PATH='${LD_LIBRARY_PATH}:/usr/local/nvidia/lib64': "
                                                  "Kubernetes expands only $(VAR), so ${LD_LIBRARY_PATH} is passed "
                                                  "literally")]),
    ("VI-RES-006", "CPU serving without memory", lambda o: (
        container(o).update(image="vllm/vllm-openai-cpu:v0.18.1"), container(o).update(resources={
            "requests": {"cpu": "16"}, "limits": {"cpu": "16"}})),
     [("Deployment/llama", f"{C0}.resources", "container 'vllm' runs vLLM without a GPU and with no memory "
                                              "request or limit: a BestEffort pod, the first evicted or OOM-killed, "
                                              "holding its weights in host memory")]),
    ("VI-RES-006", "a runtime template's 2Gi", lambda o: (
        container(o).update(image="vllm/vllm-openai-cpu:v0.18.1"), container(o).update(resources={
            "requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}})),
     [("Deployment/llama", f"{C0}.resources.limits.memory", "memory limit 2Gi cannot hold vLLM's own processes (8Gi "
       "before any weights): the server is OOM-killed loading any model")]),
    ("VI-IMG-003", "pip install at every start", lambda o: container(o).update(
        command=["bash", "-exc", "pip install flash-attn\nexec vllm serve meta-llama/Llama-3.1-70B-Instruct"]),
     [("Deployment/llama", f"{C0}.args", "container 'vllm' runs `pip install flash-attn` at every start: it needs "
       "egress, slows the start-up and is not reproducible")]),
    ("VI-SCH-002", "beta API", lambda o: find(o, "HorizontalPodAutoscaler", "llama").update(
        apiVersion="autoscaling/v2beta2"),
     [("HorizontalPodAutoscaler/llama", "apiVersion", "apiVersion autoscaling/v2beta2 is a pre-GA version of a "
       "Kubernetes API: later releases remove it")]),
    ("VI-SCH-002", "an alpha version of Dynamic Resource Allocation", lambda o: add(o, {
        "apiVersion": "resource.k8s.io/v1alpha3", "kind": "ResourceClaimTemplate",
        "metadata": {"name": "gpu", "namespace": "llm"}, "spec": {}}),
     [("ResourceClaimTemplate/gpu", "apiVersion", "apiVersion resource.k8s.io/v1alpha3 is a pre-GA version of a "
       "Kubernetes API: later releases remove it")]),
    ("VI-SCH-003", "default namespace, missing labels", lambda o: (
        find(o, "Service", "small")["metadata"].pop("namespace"),
        find(o, "Service", "small")["metadata"]["labels"].pop("app.kubernetes.io/part-of")),
     [("Service/small", "metadata.namespace", "no explicit, non-default namespace"),
      ("Service/small", "metadata.labels", "missing labels app.kubernetes.io/part-of")]),
    ("VI-SCH-004", "bare pod", lambda o: add(o, {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "debug", "namespace": "llm"}, "spec": dict(pod(o))}),
     [("Pod/debug", "kind", "a bare Pod is never rescheduled, drained gracefully or rolled out")]),
    ("VI-SCH-005", "duplicate env", lambda o: container(o)["env"].append({"name": "HOME", "value": "/tmp/x"}),
     [("Deployment/llama", f"{C0}.env", "env name 'HOME' appears 2 times")]),
    ("VI-PUL-001", "await budget too short", lambda o: find(o, "Deployment", "llama")["metadata"][
        "annotations"].update({"pulumi.com/timeoutSeconds": "600"}),
     [("Deployment/llama", "metadata.annotations", "await budget 600s < 1140s (startup 840s + image pull 300s)")]),
    ("VI-PUL-001", "skipAwait", lambda o: find(o, "Deployment", "llama")["metadata"]["annotations"].update(
        {"pulumi.com/skipAwait": "true"}),
     [("Deployment/llama", "metadata.annotations.pulumi.com/skipAwait", "skipAwait hides failed rollouts")]),
]

LWS_CASES: list[tuple[str, str, Mutation, list[tuple[str, str, str]]]] = [
    ("VI-MN-001", "independent restarts, drifting templates", lambda o: (
        find(o, "LeaderWorkerSet", "llama")["spec"]["leaderWorkerTemplate"].update(restartPolicy="None"),
        find(o, "LeaderWorkerSet", "llama")["spec"].update(startupPolicy="LeaderReady"),
        find(o, "LeaderWorkerSet", "llama")["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"][
            "containers"][0].update(image="vllm/vllm-openai:v0.19.0"),
        find(o, "LeaderWorkerSet", "llama")["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"][
            "containers"][0]["volumeMounts"].pop(0)),
     [("LeaderWorkerSet/llama", "spec.leaderWorkerTemplate.restartPolicy",
       "restartPolicy is not RecreateGroupOnPodRestart: a restarted pod cannot rejoin its NCCL/Ray group"),
      ("LeaderWorkerSet/llama", "spec.startupPolicy",
       "startupPolicy LeaderReady deadlocks: the vLLM leader only becomes ready after its workers joined"),
      ("LeaderWorkerSet/llama", "spec.leaderWorkerTemplate.workerTemplate.spec.containers[0].image",
       "worker image differs from the leader image"),
      ("LeaderWorkerSet/llama", "spec.leaderWorkerTemplate.workerTemplate.spec.containers[0].volumeMounts",
       "worker does not mount /dev/shm")]),
    ("VI-NET-005", "group traffic blocked", lambda o: (
        find(o, "NetworkPolicy", "llama")["spec"]["ingress"].pop(), find(o, "NetworkPolicy", "llama")["spec"][
            "egress"].pop()),
     [("LeaderWorkerSet/llama", "spec.leaderWorkerTemplate.leaderTemplate.metadata.labels",
       "leader pods may not reach group peers on all ports (ingress)"),
      ("LeaderWorkerSet/llama", "spec.leaderWorkerTemplate.leaderTemplate.metadata.labels",
       "leader pods may not reach group peers on all ports (egress)"),
      ("LeaderWorkerSet/llama", "spec.leaderWorkerTemplate.workerTemplate.metadata.labels",
       "worker pods may not reach group peers on all ports (ingress)"),
      ("LeaderWorkerSet/llama", "spec.leaderWorkerTemplate.workerTemplate.metadata.labels",
       "worker pods may not reach group peers on all ports (egress)")]),
    ("VI-GPU-002", "group size does not match TP x PP", lambda o: find(o, "LeaderWorkerSet", "llama")["spec"][
        "leaderWorkerTemplate"].update(size=3),
     [("LeaderWorkerSet/llama", "spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0].args",
       "TP x PP = 16 but the group has 8 GPUs per pod x 3 pods = 24")]),
    ("VI-AVL-010", "Service selects workers too", lambda o: find(o, "Service", "llama")["spec"]["selector"].pop(
        "leaderworkerset.sigs.k8s.io/worker-index"),
     [("Service/llama", "spec.selector", "Service also selects worker pods of llama; select the leader only")]),
]


def test_known_good_fixtures_pass_every_rule() -> None:
    assert [(f.rule.id, f.message) for f in evaluate(good_objects(), RULES.values())] == []
    assert [(f.rule.id, f.message) for f in evaluate(lws_objects(), RULES.values())] == []


@pytest.mark.parametrize(("rule_id", "case", "mutate", "expected"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_mutation_is_caught(rule_id: str, case: str, mutate: Mutation, expected: list[tuple[str, str, str]]) -> None:
    objects = good_objects()
    assert findings(objects, rule_id) == []
    mutate(objects)
    assert findings(objects, rule_id) == expected


@pytest.mark.parametrize(("rule_id", "case", "mutate", "expected"), LWS_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in LWS_CASES])
def test_multi_node_mutation_is_caught(rule_id: str, case: str, mutate: Mutation,
                                       expected: list[tuple[str, str, str]]) -> None:
    objects = lws_objects()
    assert findings(objects, rule_id) == []
    mutate(objects)
    assert findings(objects, rule_id) == expected


def test_unreadable_files_are_findings_and_the_others_are_checked(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: llm}\n")
    assert [f.rule.id for f in run_check([str(tmp_path)], rule_ids=["VI-YAML-001"]).findings] == []
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: [\n")
    report = run_check([str(tmp_path)], rule_ids=["VI-YAML-001"])
    assert [(f.rule.id, Path(f.source).name, f.line, f.severity.value) for f in report.findings] == [
        ("VI-YAML-001", "bad.yaml", 4, "critical")]
    assert (len(report.objects), report.problems, int(report.exit_code)) == (1, [], 1)


def good_cluster(l4_per_node: int = 8) -> dict[str, Any]:
    """An inventory the known-good fleet fits: two zones of H100 and of L4 nodes."""
    return {"node_pools": [
        {"name": "h100", "gpu": "H100-80GB", "cpu": "190", "memory": "1900Gi", "nodes": 2, "zones": ["a", "b"]},
        {"name": "l4", "gpu": "L4", "gpus_per_node": l4_per_node, "cpu": "46", "memory": "180Gi", "nodes": 2,
         "zones": ["a", "b"]}]}


CLUSTER_CASES: list[tuple[str, str, Mutation, dict[str, Any], list[tuple[str, str, str]]]] = [
    ("VI-CLU-001", "taint not tolerated", lambda o: find(o, "Deployment", "llama")["spec"]["template"]["spec"].pop(
        "tolerations"), good_cluster(),
     [("Deployment/llama", "spec", "minimum on the declared cluster blocked: 0 of 2 replica(s) placed: 0/4 nodes are "
                                   "available: 4 node(s) had untolerated taint {nvidia.com/gpu: present}."),
      ("Deployment/llama", "spec", "maximum on the declared cluster degraded: 0 of 4 replica(s) placed: 0/4 nodes are "
                                   "available: 4 node(s) had untolerated taint {nvidia.com/gpu: present}.")]),
    ("VI-CLU-002", "no room left in the other zone", lambda o: None, good_cluster(l4_per_node=1),
     [("Deployment/small", "spec", "zone-loss on the declared cluster degraded: losing a: 1 replica(s) left of 2: "
                                   "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) didn't match "
                                   "Pod's node affinity/selector.")]),
    ("VI-GPU-005", "default surge without a spare L4", lambda o: find(o, "Deployment", "small")["spec"].pop("strategy"),
     good_cluster(l4_per_node=1),
     [("Deployment/small", "spec", "rollout on the declared cluster blocked: deadlock at step 2: 2 old and 0 new "
                                   "replica(s) running, 1 new Pending (maxSurge 1, maxUnavailable 0): 0/4 nodes are "
                                   "available: 2 Insufficient nvidia.com/gpu, 2 node(s) didn't match Pod's node "
                                   "affinity/selector.")]),
    ("VI-AVL-002", "minAvailable blocks every drain", lambda o: min_available(o, "llama", 2), good_cluster(),
     [("Deployment/llama", "metadata.name", "drain on the declared cluster blocked: drain of h100-0 cannot finish: "
                                            "PodDisruptionBudget llama allows 0 disruptions with 2 of 2 pod(s) "
                                            "healthy")]),
]


@pytest.mark.parametrize(("rule_id", "case", "mutate", "cluster", "expected"), CLUSTER_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CLUSTER_CASES])
def test_simulated_mutation_is_caught(rule_id: str, case: str, mutate: Mutation, cluster: dict[str, Any],
                                      expected: list[tuple[str, str, str]]) -> None:
    def simulated_findings(objects: Objects, inventory: dict[str, Any]) -> list[tuple[str, str, str]]:
        simulation = simulate_manifests(cluster_of(ClusterSpec.model_validate(inventory)), objects)
        return [(f"{f.obj['kind']}/{f.obj['metadata']['name']}", _path(f.path), f.message)
                for f in evaluate(objects, [RULES[rule_id]], RuleContext(simulation=simulation))]

    objects = good_objects()
    assert simulated_findings(objects, good_cluster()) == []
    mutate(objects)
    assert simulated_findings(objects, cluster) == expected


def test_every_rule_has_a_mutation_test() -> None:
    from tests.test_disaggregated_set import CASES as SET_CASES
    from tests.test_disaggregation import CASES as PD_CASES
    from tests.test_lora import LORA_CASES

    tested = {case[0] for case in CASES + LWS_CASES + CLUSTER_CASES} | {case[0] for case in INPUT_CASES} | \
        {finding[0] for _name, _mutation, expected in PD_CASES + SET_CASES for finding in expected} | \
        ({"VI-LORA-001"} if LORA_CASES else set()) | \
        {"VI-YAML-001", STALE_WAIVER.id}  # VI-WVR-001: test_a_waiver_that_covers_nothing_is_itself_a_finding
    assert sorted(set(RULES) - tested) == []


INPUT_CASES: list[tuple[str, str, list[tuple[str, str, str, int]]]] = [
    ("VI-YAML-002", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  labels:\n    model: a\n    model: a\n"
                    "spec:\n  type: ClusterIP\n  type: NodePort\n",
     [("medium", "metadata.labels.model", "key 'model' is given twice (the same value)", 7),
      ("high", "spec.type", "key 'type' is given with a different value; Kubernetes uses the last one", 10)]),
]


@pytest.mark.parametrize(("rule_id", "text", "expected"), INPUT_CASES, ids=[case[0] for case in INPUT_CASES])
def test_what_the_loader_finds_is_reported_with_line_and_path(tmp_path: Path, rule_id: str, text: str,
                                                               expected: list[tuple[str, str, str, int]]) -> None:
    manifest = tmp_path / "input.yaml"
    manifest.write_text(text)
    report = run_check([str(manifest)], rule_ids=[rule_id])
    assert report.problems == []
    assert [(f.severity.value, f.path, f.message, f.line) for f in report.findings] == expected
    clean = tmp_path / "clean.yaml"
    clean.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n")
    assert run_check([str(clean)], rule_ids=[rule_id]).findings == []


def test_rule_metadata_is_complete() -> None:
    for rule in RULES.values():
        assert rule.id.startswith("VI-") and rule.title and rule.remediation, rule.id
        assert not rule.title.endswith(".") and rule.remediation.endswith("."), rule.id


def test_gpu_specific_rules_are_the_catalogs_twenty_three_the_sizing_gap_disaggregation_and_dra() -> None:
    assert sorted(r.id for r in RULES.values() if r.gpu_specific) == sorted([
        "VI-NET-006", "VI-CAP-002", "VI-PD-001", "VI-PD-002", "VI-PD-003", "VI-PD-004", "VI-LORA-001",
        "VI-SEC-009", "VI-SEC-013", "VI-SEC-014", "VI-NET-004", "VI-NET-005", "VI-RES-001", "VI-RES-005",
        "VI-GPU-001", "VI-GPU-002", "VI-GPU-003", "VI-GPU-004", "VI-GPU-005", "VI-PRB-001", "VI-PRB-004",
        "VI-PRB-005", "VI-IMG-002", "VI-MN-001", "VI-PUL-001", "VI-AVL-007", "VI-AVL-009", "VI-VER-002",
        "VI-CAP-001", "VI-GPU-006"])


def test_dev_profile_relaxes_replicas_pdbs_and_digests() -> None:
    objects = good_objects()
    o = objects
    find(o, "Deployment", "small")["spec"].update(replicas=1)
    o.remove(find(o, "PodDisruptionBudget", "small"))
    container(o, "small").update(image="vllm/vllm-openai:v0.18.1")
    for rule_id in ("VI-AVL-001", "VI-AVL-004", "VI-IMG-001"):
        assert findings(objects, rule_id, Profile.DEV) == []
        assert findings(objects, rule_id) != []


def test_rdma_profile_allows_ipc_lock_only_where_the_namespace_admits_it() -> None:
    objects = good_objects()
    container(objects)["securityContext"]["capabilities"]["add"] = ["IPC_LOCK"]
    assert findings(objects, "VI-SEC-004", Profile.RDMA) == []
    assert findings(objects, "VI-SEC-004") == [("Deployment/llama", f"{C0}.securityContext.capabilities.add",
                                                "container 'vllm' adds capabilities IPC_LOCK")]
    refused = [("Deployment/llama", f"{C0}.securityContext.capabilities.add", "namespace llm enforces the restricted "
                "Pod Security level, which refuses this pod: container 'vllm' adds IPC_LOCK")]
    assert findings(objects, "VI-SEC-017", Profile.RDMA) == refused
    find(objects, "Namespace", "llm")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "privileged"
    assert findings(objects, "VI-SEC-017", Profile.RDMA) == []
    assert findings(objects, "VI-SEC-016", Profile.RDMA) == []
    assert findings(objects, "VI-SEC-016") == [("Namespace/llm", "metadata.labels", "namespace llm enforces "
                                                "privileged Pod Security level (restricted expected under the "
                                                "restricted profile)")]


def test_rdma_profile_waives_no_critical_finding() -> None:
    objects = good_objects()
    container(objects)["securityContext"]["privileged"] = True
    annotations = find(objects, "Deployment", "llama")["metadata"]["annotations"]
    [finding] = evaluate(objects, [RULES["VI-SEC-001"]], RuleContext(profile=Profile.RDMA))
    annotations["vllm-infra.io/waive.VI-SEC-001"] = f"accepts={finding.fingerprint}; needs the host's devices"
    for profile in (Profile.RDMA, Profile.RESTRICTED):
        [kept] = evaluate(objects, [RULES["VI-SEC-001"]], RuleContext(profile=profile))
        assert kept.waiver is None
        assert kept.message == (f"container 'vllm' runs privileged (waiver not applied: critical findings cannot be "
                                f"waived under the {profile} profile)")
    [waived] = evaluate(objects, [RULES["VI-SEC-001"]], RuleContext(profile=Profile.DEV))
    assert waived.waiver == "needs the host's devices"


def _priority_waiver(objects: Objects, text: str) -> None:
    pod(objects).pop("priorityClassName", None)
    find(objects, "Deployment", "llama")["metadata"]["annotations"]["vllm-infra.io/waive.VI-AVL-008"] = text


def test_a_waiver_covers_the_finding_it_names_until_it_expires() -> None:
    objects = good_objects()
    _priority_waiver(objects, "capacity reserved by a dedicated node pool")
    [unbound] = evaluate(objects, [RULES["VI-AVL-008"]])
    assert (unbound.waiver, unbound.message) == (None, "no priorityClassName (waiver not applied: it does not say what "
                                                       "it accepts (write accepts=<the finding's subject or "
                                                       "fingerprint>; reason))")
    _priority_waiver(objects, f"accepts={unbound.fingerprint}; expires=2027-01-31; capacity reserved by a node pool")
    context = RuleContext(today=datetime.date(2027, 1, 31))
    [waived] = evaluate(objects, [RULES["VI-AVL-008"]], context)
    assert (waived.waiver, waived.fingerprint) == ("capacity reserved by a node pool", unbound.fingerprint)
    [expired] = evaluate(objects, [RULES["VI-AVL-008"]], RuleContext(today=datetime.date(2027, 2, 1)))
    assert (expired.waiver, expired.message) == (None, "no priorityClassName (waiver not applied: it expired on "
                                                       "2027-01-31)")
    _priority_waiver(objects, "accepts=0123456789abcdef; capacity reserved by a node pool")
    [other] = evaluate(objects, [RULES["VI-AVL-008"]])
    assert other.message == (f"no priorityClassName (waiver not applied: it accepts 0123456789abcdef, not fingerprint "
                             f"{unbound.fingerprint})")
    _priority_waiver(objects, f"accepts={unbound.fingerprint};  ")
    [reasonless] = evaluate(objects, [RULES["VI-AVL-008"]])
    assert reasonless.message == "no priorityClassName (waiver not applied: it gives no reason)"
    _priority_waiver(objects, f"accepts={unbound.fingerprint}; expires=soon; reviewed")
    [undated] = evaluate(objects, [RULES["VI-AVL-008"]])
    assert undated.message == "no priorityClassName (waiver not applied: its expiry date 'soon' is not a date " \
                              "(YYYY-MM-DD))"


def test_a_digest_waiver_names_its_image_and_never_covers_a_moving_tag() -> None:
    objects = good_objects()
    image = container(objects)["image"] = "vllm/vllm-openai:v0.18.1"
    find(objects, "Deployment", "llama")["metadata"]["annotations"]["vllm-infra.io/waive.VI-IMG-001"] = \
        f"accepts={image}; no digest recorded yet"
    [waived] = evaluate(objects, [RULES["VI-IMG-001"]])
    assert (waived.waiver, waived.subject) == ("no digest recorded yet", image)
    container(objects)["image"] = "ghcr.io/attacker/miner:v1"
    [other] = evaluate(objects, [RULES["VI-IMG-001"]])
    assert other.waiver is None and other.message.endswith(f"(waiver not applied: it accepts {image}, not "
                                                           f"ghcr.io/attacker/miner:v1 (fingerprint "
                                                           f"{other.fingerprint}))")
    container(objects)["image"] = "vllm/vllm-openai:latest"
    find(objects, "Deployment", "llama")["metadata"]["annotations"]["vllm-infra.io/waive.VI-IMG-001"] = \
        "accepts=vllm/vllm-openai:latest; we like it fresh"
    [moving] = evaluate(objects, [RULES["VI-IMG-001"]])
    assert moving.waiver is None and moving.message.endswith("(waiver not applied: this failure cannot be waived)")


def test_a_waiver_that_covers_nothing_is_itself_a_finding() -> None:
    objects = good_objects()
    _priority_waiver(objects, "accepts=0123456789abcdef; capacity reserved by a node pool")
    pod(objects)["priorityClassName"] = "llm-serving"
    assert evaluate(objects, [RULES["VI-AVL-008"]]) == []
    [stale] = evaluate(objects, [RULES["VI-AVL-008"], STALE_WAIVER])
    assert (stale.rule.id, _path(stale.path), stale.message) == (
        "VI-WVR-001", "metadata.annotations.vllm-infra.io/waive.VI-AVL-008",
        "the waiver of VI-AVL-008 covers no current finding: it accepts 0123456789abcdef; what it was written for "
        "changed or is gone")
    assert evaluate(objects, [STALE_WAIVER]) == []  # a waiver of a rule that did not run is not judged


def test_unpinned_remote_code_cannot_be_waived() -> None:
    objects = good_objects()
    container(objects)["args"].append("--trust-remote-code")
    subject = f"meta-llama/Llama-3.1-70B-Instruct@{REVISION}"
    find(objects, "Deployment", "llama")["metadata"]["annotations"]["vllm-infra.io/waive.VI-SEC-013"] = \
        f"accepts={subject}; reviewed"
    results = [(f.message, f.waiver) for f in evaluate(objects, [RULES["VI-SEC-013"]])]
    assert results == [
        ("--trust-remote-code runs repository code that is not pinned: set --code-revision to a commit hash "
         "(waiver not applied: this failure cannot be waived)", None),
        ("--trust-remote-code executes Python from the model repository", "reviewed"),
    ]


AMD_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: mi300x, namespace: llm}
spec:
  selector: {matchLabels: {app: mi300x}}
  template:
    metadata: {labels: {app: mi300x}}
    spec:
      containers:
        - name: server
          image: rocm/vllm:rocm6.4.1_vllm_0.10.1_20250909
          command: [vllm, serve, meta-llama/Llama-3.1-8B-Instruct]
          env:
            - {name: HIP_VISIBLE_DEVICES, value: "1"}
            - name: ROCR_VISIBLE_DEVICES
              value: "0"
          resources:
            limits: {amd.com/gpu: 1}
"""


def test_hand_picked_amd_gpus_are_caught() -> None:
    """The spec always refused HIP/ROCR_VISIBLE_DEVICES; the rule reads the same list of variables. Index 1
    of a container given one GPU picks a device it was not allocated; index 0 names the one it was."""
    import yaml

    objects = [yaml.safe_load(AMD_DEPLOYMENT)]
    assert findings(objects, "VI-SEC-014") == [
        ("Deployment/mi300x", f"{C0}.env[0]", "container 'server' sets HIP_VISIBLE_DEVICES by hand"),
    ]


def test_a_gpu_less_sidecar_beside_amd_gpus_needs_no_nvidia_void() -> None:
    """NVIDIA_VISIBLE_DEVICES=void answers the NVIDIA container runtime, which hands every GPU of the node to
    a container that asks for none; AMD's device plugin mounts only the devices it allocated, so a sidecar in
    an AMD pod sees none without the variable."""
    import yaml

    objects = [yaml.safe_load(AMD_DEPLOYMENT)]
    pod_spec = objects[0]["spec"]["template"]["spec"]
    pod_spec["containers"][0]["env"] = []
    pod_spec["containers"].append({"name": "metrics", "image": "busybox:1.36"})
    assert findings(objects, "VI-SEC-014") == []
    pod_spec["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": 1}}
    assert findings(objects, "VI-SEC-014") == [
        ("Deployment/mi300x", "spec.template.spec.containers[1].env", "container 'metrics' has no GPU limit in a "
         "GPU pod and does not set NVIDIA_VISIBLE_DEVICES=void")]


@pytest.mark.parametrize(("resources", "pod_fields"), [
    ({"limits": {"google.com/tpu": 4}}, {}),
    ({"limits": {"habana.ai/gaudi": 8}}, {}),
    ({"limits": {"aws.amazon.com/neuron": 1}}, {}),
    ({"limits": {"nvidia.com/mig-3g.40gb": 1}}, {}),
    ({"claims": [{"name": "gpu"}]}, {"resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "h100"}]}),
], ids=["tpu", "gaudi", "neuron", "mig", "dra"])
def test_accelerators_outside_the_gpu_catalog_are_not_asked_for_gpus(resources: dict[str, Any],
                                                                     pod_fields: dict[str, Any]) -> None:
    objects = good_objects()
    container(objects)["resources"] = {"requests": {"cpu": "8", "memory": "64Gi"},
                                       "limits": {"memory": "64Gi", **resources.get("limits", {})},
                                       **({"claims": resources["claims"]} if "claims" in resources else {})}
    pod(objects).update(pod_fields)
    assert findings(objects, "VI-RES-001") == []
    assert findings(objects, "VI-RES-006") == []
    container(objects)["resources"] = {"requests": {"cpu": "8"}}
    pod(objects).pop("resourceClaims", None)
    assert [message for _obj, _path, message in findings(objects, "VI-RES-001")] == [
        f"container 'vllm' requests no GPU, but its image 'vllm/vllm-openai:v0.18.1@{DIGEST}' is a CUDA build of "
        "vLLM (serve on CPUs with the CPU build, e.g. vllm/vllm-openai-cpu)"]


@pytest.mark.parametrize(("port_flag", "sidecar_port", "hook_port", "fires"), [
    (None, None, 8000, False),
    ("--port=8080", None, 8080, False),
    ("--port=8080", None, 8000, True),
    (None, 9090, 9090, False),
], ids=["default-port", "moved-port", "old-port-after-move", "sidecar-port"])
def test_a_hook_calls_what_the_pod_listens_on(port_flag: str | None, sidecar_port: int | None, hook_port: int,
                                             fires: bool) -> None:
    """Containers of a pod share one network namespace: a hook reaches vLLM's --port and any port a
    sidecar declares, and nothing else."""
    objects = good_objects()
    if port_flag:
        container(objects)["args"].append(port_flag)
    if sidecar_port:
        pod(objects)["containers"].append({"name": "exporter", "image": "busybox:1.36",
                                           "ports": [{"containerPort": sidecar_port}]})
    container(objects)["lifecycle"]["preStop"] = {"exec": {"command": [
        "sh", "-c", f"sleep 10; curl -s http://localhost:{hook_port}/metrics"]}}
    assert bool([f for f in findings(objects, "VI-PRB-003") if f[1].endswith("preStop")]) is fires


def test_a_liveness_probe_on_health_through_curl_is_not_work() -> None:
    objects = good_objects()
    container(objects)["livenessProbe"] = {"exec": {"command": ["curl", "-sf", "http://localhost:8000/health"]},
                                           "periodSeconds": 20, "failureThreshold": 3}
    assert [f for f in findings(objects, "VI-PRB-002") if "work" in f[2]] == []


@pytest.mark.parametrize(("key", "value", "gpu"), [
    ("karpenter.k8s.aws/instance-family", "g6e", "L40S"),
    ("eks.amazonaws.com/instance-family", "g6e", "L40S"),
    ("eks.amazonaws.com/instance-gpu-name", "l4", "L4"),
    ("cloud.google.com/gke-accelerator", "nvidia-h100-mega-80gb", "H100-80GB"),
    ("node.kubernetes.io/instance-type", "g5.12xlarge", "A10G"),
    ("node.kubernetes.io/instance-type", "p4de.24xlarge", "A100-80GB"),
    ("node.kubernetes.io/instance-type", "a3-highgpu-8g", "H100-80GB"),
    ("node.kubernetes.io/instance-type", "Standard_NC24ads_A100_v4", "A100-80GB"),
    ("nvidia.com/gpu.product", "NVIDIA-L4", "L4"),
])
def test_a_cloud_instance_label_pins_its_gpu(key: str, value: str, gpu: str) -> None:
    """A pod pinned by instance family or type is sized on that GPU: 70B bf16 weights never fit on
    two of the 24-48 GB cards, and on two 80 GB cards they do."""
    objects = good_objects()
    pod(objects)["nodeSelector"] = {key: value}
    pod(objects).pop("affinity", None)
    found = findings(objects, "VI-CAP-001")
    fits = gpu in {"A100-80GB", "H100-80GB"}
    assert (found == []) is fits, found
    assert all(f"on 2 x {gpu} does not fit" in message for _o, _p, message in found)


def test_a_quantized_checkpoint_is_sized_in_its_own_format_without_the_flag() -> None:
    """vLLM reads quantization_config from the checkpoint: the AWQ release of the 70B model holds
    131072 tokens on two H100s, where the bf16 one does not (the class: AWQ sized as bf16)."""
    objects = good_objects()
    set_args(objects, "--max-model-len=16384", "--max-model-len=131072")
    assert findings(objects, "VI-CAP-001")
    set_args(objects, "meta-llama/Llama-3.1-70B-Instruct", "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4")
    assert findings(objects, "VI-CAP-001") == findings(objects, "VI-CAP-002") == []
    container(objects)["args"].append("--quantization=awq_marlin")  # a kernel of the same format
    assert findings(objects, "VI-CAP-001") == []


@pytest.mark.parametrize(("first", "second"), [
    (["llm.example.com"], ["*.example.com"]), ([], ["small.example.com"]), (["a.example.com"], ["b.example.com"])],
    ids=["exact-over-wildcard", "hostname-over-catch-all", "disjoint"])
def test_routes_of_different_specificity_do_not_compete(first: list[str], second: list[str]) -> None:
    """The Gateway gives a request to the route with the most specific matching hostname: an exact
    name over a wildcard, any name over none; both routes keep serving."""
    objects = good_objects()
    find(objects, "HTTPRoute", "llama")["spec"]["hostnames"] = first
    add(objects, {**copy.deepcopy(find(objects, "HTTPRoute", "llama")),
                  "metadata": {"name": "small", "namespace": "llm"}})
    find(objects, "HTTPRoute", "small")["spec"]["hostnames"] = second
    assert findings(objects, "VI-NET-007") == []


def test_a_service_account_bound_to_a_role_keeps_its_token() -> None:
    """A pod whose ServiceAccount a RoleBinding grants something talks to the API server (an
    endpoint picker, a controller): its token is needed. Unbound, the token is still a finding."""
    objects = good_objects()
    pod(objects)["automountServiceAccountToken"] = True
    assert [f[2] for f in findings(objects, "VI-SEC-012")] == ["pod mounts a ServiceAccount token it does not need"]
    add(objects, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                  "metadata": {"name": "llama-reads-pods", "namespace": "llm"},
                  "subjects": [{"kind": "ServiceAccount", "name": pod(objects)["serviceAccountName"]}],
                  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"}})
    assert findings(objects, "VI-SEC-012") == []


@pytest.mark.parametrize(("memory", "gpu"), [("81920", None), ("40960", "A100-40GB")])
def test_eks_auto_mode_labels_tell_the_a100_sizes_apart(memory: str, gpu: str | None) -> None:
    """EKS Auto Mode labels nodes as Karpenter does, under eks.amazonaws.com/: one GPU name for both A100
    sizes, and the memory label that decides which."""
    objects = good_objects()
    pod(objects)["nodeSelector"] = {"eks.amazonaws.com/instance-gpu-name": "a100",
                                    "eks.amazonaws.com/instance-gpu-memory": memory}
    pod(objects).pop("affinity", None)
    found = findings(objects, "VI-CAP-001")
    assert [message.split(": ", 1)[0].rsplit(" on ", 1)[1] for _o, _p, message in found] == (
        [f"2 x {gpu} does not fit"] if gpu else [])
