"""Pod security (PSS baseline/restricted) plus the GPU/LLM-specific hardening rules."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from vllm_infra.catalog.gpus import (
    DEVICE_INDEX_ENV,
    DEVICE_SELECTION_ENV,
    NVIDIA_DEVICES_ENV,
    NVIDIA_GPU_RESOURCE,
    NVIDIA_NO_DEVICES,
)
from vllm_infra.catalog.huggingface import HUB_OFFLINE_ENV, is_commit_hash
from vllm_infra.catalog.vllm import CACHE_DIR_ENV
from vllm_infra.checker.reading.accelerators import gpu_count, gpu_resources
from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.reading.environment import env_entries, env_values
from vllm_infra.checker.reading.objects import Manifest, as_list, dig, name_of, namespace_of
from vllm_infra.checker.reading.ray import SERVE_CONFIG, llm_configs
from vllm_infra.checker.reading.server import args_path, engine_args, vllm_pod_templates
from vllm_infra.checker.reading.templates import PodTemplate, containers, pod_templates
from vllm_infra.checker.rules.base import RuleContext, Violation, bundle_rule, resource_rule
from vllm_infra.vocabulary.credentials import is_secret_env_name, is_secret_flag, looks_like_credential
from vllm_infra.vocabulary.kubernetes import WORKLOAD_KINDS
from vllm_infra.vocabulary.paths import FieldPath
from vllm_infra.vocabulary.profiles import ADDED_CAPABILITIES_ADMITTED, POD_SECURITY_ENFORCE_LABEL, PodSecurityLevel
from vllm_infra.vocabulary.reporting import TRUST_REMOTE_CODE_RULE, Severity
from vllm_infra.vocabulary.waivers import trusted_code_subject

_ALLOWED_VOLUMES = frozenset({"configMap", "downwardAPI", "emptyDir", "projected", "secret", "csi",
                              "persistentVolumeClaim", "ephemeral", "image"})


@resource_rule(
    "VI-SEC-001", Severity.CRITICAL, "No container runs privileged",
    "Remove securityContext.privileged; GPUs come from the device plugin, not from privileges.",
    kinds=WORKLOAD_KINDS,
    rationale=("A privileged container owns the node; GPUs never need it, the device plugin provides them."),
    example="securityContext: {privileged: true}")
def no_privileged(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        for ref in containers(template):
            if dig(ref.spec, "securityContext", "privileged") is True:
                yield Violation((*ref.path, "securityContext", "privileged"),
                                f"container '{ref.spec.get('name')}' runs privileged")


@resource_rule(
    "VI-SEC-002", Severity.CRITICAL, "No host network, PID or IPC namespace",
    "Drop hostNetwork/hostPID/hostIPC; give NCCL shared memory with an emptyDir (medium: Memory) on /dev/shm.",
    kinds=WORKLOAD_KINDS,
    rationale="Host namespaces expose the node's network, processes and shared memory to the pod.",
    example="hostIPC: true   # for NCCL shared memory: use an emptyDir on /dev/shm instead")
def no_host_namespaces(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if template.spec.get(field) is True:
                yield Violation((*template.path, field), f"pod shares the host's namespace ({field}: true)")


@resource_rule(
    "VI-SEC-003", Severity.HIGH, "Every container sets allowPrivilegeEscalation: false",
    "Set securityContext.allowPrivilegeEscalation: false on every container (restricted PSS).",
    kinds=WORKLOAD_KINDS,
    rationale=("Without allowPrivilegeEscalation: false a process can gain more privileges than its parent"
               " (setuid binaries)."),
    example="securityContext: {}   # allowPrivilegeEscalation unset")
def no_privilege_escalation(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        for ref in containers(template):
            if dig(ref.spec, "securityContext", "allowPrivilegeEscalation") is not False:
                yield Violation((*ref.path, "securityContext"),
                                f"container '{ref.spec.get('name')}' does not set allowPrivilegeEscalation: false")


@resource_rule(
    "VI-SEC-004", Severity.HIGH, "Capabilities: drop ALL, add at most NET_BIND_SERVICE",
    "Set capabilities.drop: [ALL]; add only NET_BIND_SERVICE (IPC_LOCK only under the rdma profile).",
    kinds=WORKLOAD_KINDS,
    rationale="Every capability beyond what the server needs widens what a compromise can do.",
    example="securityContext: {capabilities: {add: [SYS_ADMIN]}}")
def least_capabilities(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    allowed = ctx.policy.added_capabilities
    for template in pod_templates(obj):
        for ref in containers(template):
            caps = dig(ref.spec, "securityContext", "capabilities", default={}) or {}
            name = ref.spec.get("name")
            if "ALL" not in (caps.get("drop") or []):
                yield Violation((*ref.path, "securityContext", "capabilities"),
                                f"container '{name}' does not drop ALL capabilities")
            extra = sorted(set(caps.get("add") or []) - allowed)
            if extra:
                yield Violation((*ref.path, "securityContext", "capabilities", "add"),
                                f"container '{name}' adds capabilities {', '.join(extra)}")


def _effective(template_spec: Mapping[str, Any], container: Mapping[str, Any], key: str) -> object:
    value = dig(container, "securityContext", key)
    return value if value is not None else dig(template_spec, "securityContext", key)


@resource_rule(
    "VI-SEC-005", Severity.HIGH, "Pods run as non-root with a non-root group and an fsGroup",
    "Set pod securityContext runAsNonRoot: true, runAsUser/runAsGroup != 0 and fsGroup (so cache volumes are "
    "writable).", kinds=WORKLOAD_KINDS,
    rationale=("A server running as root makes every container escape a root escape, and without fsGroup "
               "the cache volumes are not writable."),
    example="securityContext: {runAsUser: 0}")
def non_root(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        sec_path = (*template.path, "securityContext")
        for ref in containers(template):
            name = ref.spec.get("name")
            if _effective(template.spec, ref.spec, "runAsNonRoot") is not True:
                yield Violation(sec_path, f"container '{name}' may run as root (runAsNonRoot is not true)")
            for key in ("runAsUser", "runAsGroup"):
                if _effective(template.spec, ref.spec, key) == 0:
                    yield Violation((*ref.path, "securityContext", key), f"container '{name}' sets {key}: 0")
        if dig(template.spec, "securityContext", "fsGroup") is None:
            yield Violation(sec_path, "pod sets no fsGroup; mounted cache volumes may not be writable")


@resource_rule(
    "VI-SEC-006", Severity.HIGH, "Seccomp profile RuntimeDefault or Localhost",
    "Set securityContext.seccompProfile.type: RuntimeDefault on the pod; never Unconfined.", kinds=WORKLOAD_KINDS,
    rationale="Without a seccomp profile every system call is open to the process.",
    example="securityContext: {seccompProfile: {type: Unconfined}}")
def seccomp(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        pod_type = dig(template.spec, "securityContext", "seccompProfile", "type")
        for ref in containers(template):
            kind = dig(ref.spec, "securityContext", "seccompProfile", "type") or pod_type
            if kind not in ("RuntimeDefault", "Localhost"):
                yield Violation((*template.path, "securityContext", "seccompProfile"),
                                f"container '{ref.spec.get('name')}' has seccomp profile {kind or 'unset'}")


@resource_rule(
    "VI-SEC-007", Severity.CRITICAL, "No hostPath; only restricted volume types",
    "Use a PVC or emptyDir for model and compile caches instead of hostPath.", kinds=WORKLOAD_KINDS,
    rationale="A hostPath volume reads and writes the node's filesystem.",
    example="volumes: [{name: models, hostPath: {path: /mnt/models}}]")
def restricted_volumes(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        for index, volume in enumerate(template.spec.get("volumes") or []):
            sources = sorted(set(volume) - {"name"} - _ALLOWED_VOLUMES)
            if sources:
                yield Violation((*template.path, "volumes", index),
                                f"volume '{volume.get('name')}' uses {', '.join(sources)}")


@resource_rule(
    "VI-SEC-008", Severity.MEDIUM, "No hostPort and no host override in probes or hooks",
    "Remove hostPort and 'host' from probes and lifecycle handlers; expose through a Service.", kinds=WORKLOAD_KINDS,
    rationale=("A hostPort binds the node's network and bypasses Services and policies; a probe host "
               "override sends probes elsewhere."),
    example="ports: [{containerPort: 8000, hostPort: 8000}]")
def no_host_ports(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        for ref in containers(template):
            for index, port in enumerate(ref.spec.get("ports") or []):
                if port.get("hostPort"):
                    yield Violation((*ref.path, "ports", index, "hostPort"),
                                    f"container '{ref.spec.get('name')}' binds hostPort {port['hostPort']}")
            handlers = [(key, ref.spec.get(key)) for key in ("startupProbe", "readinessProbe", "livenessProbe")]
            handlers += [(f"lifecycle.{hook}", dig(ref.spec, "lifecycle", hook)) for hook in ("preStop", "postStart")]
            for key, handler in handlers:
                for action in ("httpGet", "tcpSocket"):
                    if dig(handler, action, "host"):
                        yield Violation((*ref.path, *key.split("."), action, "host"),
                                        f"{key} of container '{ref.spec.get('name')}' targets another host")


def _writable_mounts(container: Mapping[str, Any]) -> list[str]:
    mounts = dig(container, "volumeMounts", default=[]) or []
    return [str(m.get("mountPath")).rstrip("/") or "/" for m in mounts if not m.get("readOnly")]


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root + "/") for root in roots)


@resource_rule(
    "VI-SEC-009", Severity.HIGH, "Read-only root filesystem with every vLLM cache path on a writable mount",
    "Set readOnlyRootFilesystem: true, mount an emptyDir on /tmp and point HOME, HF_HOME, XDG_CACHE_HOME, "
    "VLLM_CACHE_ROOT, TRITON_CACHE_DIR, TORCHINDUCTOR_CACHE_DIR and NUMBA_CACHE_DIR at writable mounts.",
    kinds=WORKLOAD_KINDS, gpu=True,
    rationale=("A writable root filesystem lets a compromise persist in the image layer; vLLM, Triton and "
               "Hugging Face write caches that must then go to mounted volumes."),
    example="securityContext: {readOnlyRootFilesystem: false}")
def writable_caches(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for _template, ref in vllm_pod_templates(obj):
        name = ref.spec.get("name")
        if dig(ref.spec, "securityContext", "readOnlyRootFilesystem") is not True:
            yield Violation((*ref.path, "securityContext"),
                            f"container '{name}' has a writable root filesystem (set readOnlyRootFilesystem: true "
                            "or waive with a reason)")
            continue
        writable = _writable_mounts(ref.spec)
        values = env_values(ref.spec)
        unwritable = [] if _under("/tmp", writable) else ["/tmp"]
        offline = values.get(HUB_OFFLINE_ENV) == "1"
        for var in CACHE_DIR_ENV:
            path = values.get(var)
            if var == "HF_HOME" and offline:
                continue  # a pre-populated cache is only read
            if path is None:
                unwritable.append(f"{var} (unset)")
            elif not _under(path.rstrip("/"), writable):
                unwritable.append(f"{var}={path}")
        if unwritable:
            yield Violation((*ref.path, "volumeMounts"), f"container '{name}' has a read-only root filesystem, but "
                                                         "vLLM would write under it: " + ", ".join(unwritable)
                                                         + " not on a writable mount")
        hf_home = values.get("HF_HOME", "")
        for index, mount in enumerate(ref.spec.get("volumeMounts") or []):
            root = str(mount.get("mountPath", "")).rstrip("/")
            if mount.get("readOnly") and hf_home and _under(hf_home, [root]) and not offline:
                yield Violation((*ref.path, "volumeMounts", index, "readOnly"),
                                "the Hugging Face cache is mounted read-only without HF_HUB_OFFLINE=1")


@resource_rule(
    "VI-SEC-010", Severity.CRITICAL, "Tokens and keys come from Secrets, never literals",
    "Reference tokens with env[].valueFrom.secretKeyRef; keep Secret data out of Git (create it out of band).",
    kinds=WORKLOAD_KINDS | {"Secret", "ConfigMap"},
    rationale=("A literal token in a manifest is in Git, in every copy of the rendered tree and in the API"
               " server's object history; one kept in a ConfigMap is also readable by every role that reads "
               "ConfigMaps, which RBAC grants far more widely than Secrets."),
    example="env: [{name: HF_TOKEN, value: hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx}]")
def no_literal_secrets(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    if obj.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if obj.get(field):
                yield Violation((field,), f"Secret '{name_of(obj)}' carries {field} in the manifests")
        return
    if obj.get("kind") == "ConfigMap":
        yield from _credentials_in_config_map(obj)
        return
    annotations = dig(obj, "metadata", "annotations")
    for key, value in sorted(annotations.items()) if isinstance(annotations, dict) else ():
        if isinstance(value, str) and looks_like_credential(value):
            yield Violation(("metadata", "annotations", str(key)), f"annotation {key} holds what looks like a "
                                                                   "credential")
    for template in pod_templates(obj):
        for ref in containers(template):
            for name, (index, entry) in env_entries(ref.spec).items():
                value = entry.get("value")
                if "value" in entry and (is_secret_env_name(name) or is_secret_flag(name.lower().replace("_", "-"))
                                         or (isinstance(value, str) and looks_like_credential(value))):
                    yield Violation((*ref.path, "env", index, "value"),
                                    f"{name} is a literal value; use valueFrom.secretKeyRef")
                config_map = dig(entry, "valueFrom", "configMapKeyRef", "name")
                if config_map is not None and is_secret_env_name(name):
                    yield Violation((*ref.path, "env", index, "valueFrom"), f"{name} is read from ConfigMap "
                                    f"'{config_map}', which is not a Secret; use valueFrom.secretKeyRef",
                                    severity=Severity.HIGH)
            for position, token in enumerate(as_list(ref.spec.get("command")) + as_list(ref.spec.get("args"))):
                if isinstance(token, str) and _literal_secret_argument(token):
                    yield Violation(args_path(ref), f"argument {position + 1} passes a credential literally; "
                                                    "read it from a Secret (a file or an environment variable)")


def _credentials_in_config_map(config_map: Manifest) -> Iterator[Violation]:
    """Keys named like a credential (``HF_TOKEN``, for ``envFrom``) with a value, and token-shaped
    values under any key."""
    data = config_map.get("data")
    for key, value in sorted(data.items()) if isinstance(data, dict) else ():
        if not isinstance(value, str) or not value.strip():
            continue
        if is_secret_env_name(str(key)) or looks_like_credential(value):
            yield Violation(("data", str(key)), f"ConfigMap '{name_of(config_map)}' holds a credential under "
                                                f"{key}; a ConfigMap is not a Secret: move it to one")


def _literal_secret_argument(token: str) -> bool:
    """``--api-key=sk-...``, ``--hf-token=...`` (not ``$(VAR)``), or any token-shaped value."""
    name, separator, value = token.partition("=")
    if separator and is_secret_flag(name.lstrip("-").lower().replace("_", "-")) and value and "$" not in value:
        return True
    return looks_like_credential(token)


@resource_rule(
    "VI-SEC-011", Severity.LOW, "Prefer Secrets mounted as files over environment variables",
    "Mount the Secret as a file (e.g. HF_TOKEN_PATH) so it does not leak through the environment.",
    kinds=WORKLOAD_KINDS,
    rationale=("Environment variables leak into logs, crash dumps and child processes; a mounted file does"
               " not."),
    example="env: [{name: HF_TOKEN, valueFrom: {secretKeyRef: {name: hf, key: token}}}]")
def secrets_as_files(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        for ref in containers(template):
            for name, (index, entry) in env_entries(ref.spec).items():
                if dig(entry, "valueFrom", "secretKeyRef"):
                    yield Violation((*ref.path, "env", index), f"{name} reads a Secret into the environment")


@bundle_rule(
    "VI-SEC-012", Severity.HIGH, "Dedicated ServiceAccount that exists, no token automount",
    "Render a ServiceAccount per service, reference it, and set automountServiceAccountToken: false.",
    rationale=("A shared or default ServiceAccount gives the model server whatever else was bound to it, "
               "and an automounted token is a credential it never needs."),
    example="serviceAccountName: default")
def dedicated_service_account(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    bound = _bound_service_accounts(bundle)
    for obj in bundle.objects:
        if obj.get("kind") not in WORKLOAD_KINDS:
            continue
        for template in pod_templates(obj):
            account = template.spec.get("serviceAccountName")
            if not account or account == "default":
                yield Violation((*template.path, "serviceAccountName"), "pod uses the namespace's default "
                                "ServiceAccount", obj=obj)
            elif bundle.find("ServiceAccount", account, namespace_of(obj) or None) is None:
                yield Violation((*template.path, "serviceAccountName"),
                                f"ServiceAccount '{account}' is not part of the manifests", obj=obj)
            if template.spec.get("automountServiceAccountToken") is not False and \
                    (namespace_of(obj), str(account)) not in bound:
                yield Violation((*template.path, "automountServiceAccountToken"),
                                "pod mounts a ServiceAccount token it does not need", obj=obj)


def _bound_service_accounts(bundle: Bundle) -> set[tuple[str, str]]:
    """(namespace, name) of the ServiceAccounts a RoleBinding or ClusterRoleBinding in the manifests
    grants something: their pods talk to the API server and need the token (a controller, an
    endpoint picker)."""
    bound = set()
    for binding in bundle.of_kind("RoleBinding", "ClusterRoleBinding"):
        for subject in as_list(binding.get("subjects")):
            if isinstance(subject, Mapping) and subject.get("kind") == "ServiceAccount":
                bound.add((str(subject.get("namespace") or namespace_of(binding)), str(subject.get("name"))))
    return bound


@resource_rule(
    TRUST_REMOTE_CODE_RULE, Severity.HIGH, "--trust-remote-code needs a waiver and pinned --revision/--code-revision",
    "Pin --revision and --code-revision to commit hashes, and add the annotation "
    "vllm-infra.io/waive.VI-SEC-013: \"accepts=<model>@<revision>; <why the remote code is trusted>\".",
    kinds=WORKLOAD_KINDS, gpu=True,
    rationale=("--trust-remote-code runs Python from the model repository inside the server; unpinned, "
               "anyone who can push to it runs code in your cluster."),
    example=("args: [--model, acme/custom-model, --trust-remote-code]   # no --revision/--code-revision, "
             "no waiver"))
def trust_remote_code(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for _template, ref in vllm_pod_templates(obj):
        args = engine_args(ref.spec)
        if not args.flag("trust-remote-code"):
            continue
        unpinned = [flag for flag in ("revision", "code-revision")
                    if not is_commit_hash(args.flag(flag))]
        if unpinned:
            yield Violation(args_path(ref), "--trust-remote-code runs repository code that is not pinned: set "
                            + " and ".join(f"--{flag}" for flag in unpinned) + " to a commit hash", waivable=False)
        yield Violation(args_path(ref), "--trust-remote-code executes Python from the model repository",
                        subject=trusted_code_subject(args.model, args.flag("code-revision") or args.flag("revision")))
    for config in llm_configs(obj):  # Ray Serve LLM: vLLM's engine arguments by their Python names
        kwargs = config.engine_kwargs
        if kwargs.get("trust_remote_code") is not True:
            continue
        unpinned = [flag for flag in ("revision", "code_revision") if not is_commit_hash(kwargs.get(flag))]
        where = f"application '{config.application}' ({config.model})"
        if unpinned:
            yield Violation(SERVE_CONFIG, f"{where} sets trust_remote_code, which runs repository code that is not "
                            "pinned: set " + " and ".join(unpinned) + " in engine_kwargs to a commit hash",
                            waivable=False)
        yield Violation(SERVE_CONFIG, f"{where} sets trust_remote_code: it executes Python from the model "
                        "repository", subject=trusted_code_subject(config.model, kwargs.get("code_revision")
                                                                     or kwargs.get("revision")))


def _all_allocated(var: str, value: str | None, container: Mapping[str, Any]) -> bool:
    """``CUDA_VISIBLE_DEVICES=0,1`` in a container limited to 2 GPUs names what it was given."""
    count = gpu_count(container)
    return var in DEVICE_INDEX_ENV and value is not None and count > 0 and \
        sorted(value.replace(" ", "").split(",")) == sorted(str(index) for index in range(count))


@resource_rule(
    "VI-SEC-014", Severity.HIGH, "GPUs are never selected through environment variables",
    "Remove NVIDIA_VISIBLE_DEVICES/CUDA_VISIBLE_DEVICES; in GPU pods set NVIDIA_VISIBLE_DEVICES=void on "
    "containers without a GPU limit.", kinds=WORKLOAD_KINDS, gpu=True,
    rationale=("Selecting GPUs through environment variables bypasses the device plugin: containers see "
               "GPUs they were not allocated and share them with other pods."),
    example="env: [{name: NVIDIA_VISIBLE_DEVICES, value: all}]")
def no_device_env(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        refs = containers(template)
        nvidia_pod = any(NVIDIA_GPU_RESOURCE in gpu_resources(ref.spec) for ref in refs)  # the void is NVIDIA's
        for ref in refs:
            entries = env_entries(ref.spec)
            values = env_values(ref.spec)
            has_gpu = gpu_count(ref.spec) > 0
            for var in sorted(DEVICE_SELECTION_ENV):
                if var in entries and not (var == NVIDIA_DEVICES_ENV and values.get(var) == NVIDIA_NO_DEVICES
                                           and not has_gpu) and not _all_allocated(var, values.get(var), ref.spec):
                    yield Violation((*ref.path, "env", entries[var][0]),
                                    f"container '{ref.spec.get('name')}' sets {var} by hand")
            if nvidia_pod and not has_gpu and values.get(NVIDIA_DEVICES_ENV) != NVIDIA_NO_DEVICES:
                yield Violation((*ref.path, "env"), f"container '{ref.spec.get('name')}' has no GPU limit in a GPU "
                                                    "pod and does not set NVIDIA_VISIBLE_DEVICES=void")


SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes"})
"""The Pod Security Standards' safe sysctls (baseline policy, Kubernetes 1.29+)."""
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


@resource_rule(
    "VI-SEC-015", Severity.CRITICAL, "Pod Security baseline: no hostProcess, default /proc, confined SELinux and "
    "AppArmor, safe sysctls only",
    "Remove windowsOptions.hostProcess, procMount: Unmasked, custom SELinux user/role/types, Unconfined AppArmor "
    "profiles and sysctls outside the safe set: the baseline Pod Security level refuses them.", kinds=WORKLOAD_KINDS,
    rationale=("These controls are the Pod Security baseline: each one opens a known path from the "
               "container to the node."),
    example="securityContext: {procMount: Unmasked}")
def pod_security_baseline(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        pod_context = template.spec.get("securityContext")
        contexts = [((*template.path, "securityContext"), pod_context, "pod")] + [
            ((*ref.path, "securityContext"), ref.spec.get("securityContext"), f"container '{ref.spec.get('name')}'")
            for ref in containers(template)]
        for path, context, who in contexts:
            if isinstance(context, dict):
                yield from _baseline_context(path, context, who)
        for index, sysctl in enumerate(as_list(dig(pod_context, "sysctls"))):
            name = sysctl.get("name") if isinstance(sysctl, dict) else None
            if name not in SAFE_SYSCTLS:
                yield Violation((*template.path, "securityContext", "sysctls", index), f"sysctl {name} is not in "
                                "the Pod Security safe set")
        found = dig(obj, *template.path[:-1], "metadata", "annotations")
        annotations = found if isinstance(found, dict) else {}
        for key, value in sorted(annotations.items(), key=lambda item: str(item[0])):
            if str(key).startswith(APPARMOR_ANNOTATION) and value == "unconfined":
                yield Violation((*template.path[:-1], "metadata", "annotations", str(key)),
                                f"AppArmor is unconfined for {str(key).removeprefix(APPARMOR_ANNOTATION)}")


def _baseline_context(path: FieldPath, context: dict[str, Any], who: str) -> Iterator[Violation]:
    if dig(context, "windowsOptions", "hostProcess") is True:
        yield Violation((*path, "windowsOptions", "hostProcess"), f"{who} runs as a Windows host process")
    if context.get("procMount") not in (None, "Default"):
        yield Violation((*path, "procMount"), f"{who} unmasks /proc (procMount: {context.get('procMount')})")
    selinux = context.get("seLinuxOptions")
    if isinstance(selinux, dict):
        if selinux.get("type", "") not in SELINUX_TYPES:
            yield Violation((*path, "seLinuxOptions", "type"), f"{who} runs as SELinux type {selinux.get('type')}")
        for field in ("user", "role"):
            if selinux.get(field):
                yield Violation((*path, "seLinuxOptions", field), f"{who} sets a custom SELinux {field}")
    if dig(context, "appArmorProfile", "type") == "Unconfined":
        yield Violation((*path, "appArmorProfile", "type"), f"{who} runs without AppArmor (Unconfined)")


@resource_rule(
    "VI-SEC-016", Severity.HIGH, "Namespaces enforce the restricted Pod Security level",
    "Label the namespace pod-security.kubernetes.io/enforce: restricted; a lower level lets the API server admit "
    "pods this catalog would refuse.", kinds={"Namespace"},
    rationale=("A namespace that enforces less than the profile admits pods this catalog refuses, from any"
               " tool that applies them."),
    example="kind: Namespace\nmetadata: {labels: {pod-security.kubernetes.io/enforce: baseline}}")
def namespace_pod_security(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    labels = dig(obj, "metadata", "labels")
    level = labels.get(POD_SECURITY_ENFORCE_LABEL) if isinstance(labels, dict) else None
    expected = ctx.policy.namespace_levels
    if expected and level not in expected:
        yield Violation(("metadata", "labels"), f"namespace {name_of(obj)} enforces {level or 'no'} Pod Security "
                                                f"level ({' or '.join(sorted(expected))} expected under the "
                                                f"{ctx.profile} profile)")


def _refusals(template: PodTemplate, level: PodSecurityLevel) -> Iterator[tuple[FieldPath, str]]:
    """What Pod Security admission at ``level`` refuses in one pod (privileges, host namespaces and
    added capabilities: what a profile or a waiver may let through the catalog's own rules)."""
    if level == PodSecurityLevel.PRIVILEGED:
        return
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if template.spec.get(field) is True:
            yield (*template.path, field), f"{field}: true"
    admitted = ADDED_CAPABILITIES_ADMITTED[level] or frozenset()
    for ref in containers(template):
        if dig(ref.spec, "securityContext", "privileged") is True:
            yield (*ref.path, "securityContext", "privileged"), f"container '{ref.spec.get('name')}' is privileged"
        added = {str(cap) for cap in as_list(dig(ref.spec, "securityContext", "capabilities", "add"))}
        if added - admitted:
            yield ((*ref.path, "securityContext", "capabilities", "add"),
                   f"container '{ref.spec.get('name')}' adds {', '.join(sorted(added - admitted))}")


@bundle_rule(
    "VI-SEC-017", Severity.CRITICAL, "Pods pass the Pod Security admission their namespace enforces",
    "Drop what the namespace's level refuses, or run the pod in a namespace whose enforced level admits it (IPC_LOCK "
    "for RDMA is only admitted at privileged); the API server refuses such pods, whatever a waiver or profile says.",
    rationale=("Pod Security admission refuses pods that break its level, whatever a profile or waiver "
               "says: such a workload never starts."),
    example="# namespace llm enforces restricted; a container adds IPC_LOCK for RDMA")
def namespace_admits_pods(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    for namespace in bundle.of_kind("Namespace"):
        labels = dig(namespace, "metadata", "labels")
        enforced = str(labels.get(POD_SECURITY_ENFORCE_LABEL)) if isinstance(labels, dict) else ""
        if enforced not in {level.value for level in PodSecurityLevel}:
            continue
        level = PodSecurityLevel(enforced)
        for workload, template in bundle.templates_in(name_of(namespace)):
            for path, what in _refusals(template, level):
                yield Violation(path, f"namespace {name_of(namespace)} enforces the {level} Pod Security level, which "
                                f"refuses this pod: {what}", obj=workload, waivable=False)
