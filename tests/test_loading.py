"""Model loading strategies: what the spec refuses, what each renders (the prefetch Job and its gate,
the model image as an image volume or a copy, the streamer's flags), the start-up budgets that
follow, and the checker on hand-written manifests of each (modelled on the Kubernetes image-volume
task page and vLLM's Run:ai streamer page)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import MINIMAL_SERVICE, deep_update
from vllm_infra.checker.reading.server import is_vllm_container
from vllm_infra.checker.runner import check_objects, run_check
from vllm_infra.render import render_fleet
from vllm_infra.spec import VllmServiceSpec
from vllm_infra.spec.fleet import FleetSpec
from vllm_infra.vocabulary.paths import format_path
from vllm_infra.vocabulary.reporting import Profile, Severity

DIGEST = "sha256:" + "d" * 64
MODEL_IMAGE = f"registry.example.com/models/llama-3.1-8b:0e9e39f2@{DIGEST}"
RWX_CACHE = {"model_cache": {"type": "pvc", "size": "40Gi"}}
LLAMA_70B = {"id": "meta-llama/Llama-3.1-70B-Instruct", "revision": "1" * 40, "max_model_len": 8192}
STREAM = {"strategy": "stream", "uri": "s3://models/llama-3.1-8b", "unpinned_reason": "write-once bucket"}


def service(**changes: Any) -> dict[str, Any]:
    return deep_update(MINIMAL_SERVICE, deep_update({"scheduling": {"priority_class": "llm-serving"}}, changes))


def fleet(data: dict[str, Any], kubernetes_version: str = "1.33", profile: str = "dev") -> FleetSpec:
    return FleetSpec.model_validate({"environment": "dev", "policy_profile": profile, "namespace": {"name": "llm"},
                                     "kubernetes_version": kubernetes_version, "services": [data]})


def objects_of(data: dict[str, Any], kubernetes_version: str = "1.33") -> list[dict[str, Any]]:
    return render_fleet(fleet(data, kubernetes_version))


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    return next(obj for obj in objects if obj["kind"] == kind and name in (None, obj["metadata"]["name"]))


def pod_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = find(objects, "Deployment")["spec"]["template"]["spec"]
    return spec


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}


def errors(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        VllmServiceSpec.model_validate(data)
    return [(format_path(tuple(e["loc"])), e["msg"]) for e in info.value.errors()]


@pytest.mark.parametrize(("changes", "expected"), [
    ({"loading": {"strategy": "image"}}, ("loading.image", "strategy image needs 'image' (the model image to mount)")),
    ({"loading": {"strategy": "image", "image": "registry.example.com/models/llama:latest"}},
     ("loading.image", "the model image floats (no tag, or a moving tag): pin a tag and, for production, a digest")),
    ({"loading": {"strategy": "stream", "uri": "s3://models/llama"}},
     ("loading.unpinned_reason", "no revision pins an object-store prefix: say why it can be served (reviewers see "
                                 "it as the VI-IMG-002 waiver)")),
    ({"loading": {"uri": "s3://models/llama"}}, ("loading.uri", "only used with strategy stream")),
    ({"loading": {"strategy": "prefetch"}},
     ("storage.model_cache", "the prefetch Job writes the model into the cache that every replica reads: use a "
                             "ReadWriteMany claim (type pvc or existingClaim)")),
    ({"loading": {"strategy": "prefetch"}, "storage": {"model_cache": {"type": "pvc", "access_mode": "ReadWriteOnce"}}},
     ("storage.model_cache", "the prefetch Job writes the model into the cache that every replica reads: use a "
                             "ReadWriteMany claim (type pvc or existingClaim)")),
    ({"loading": STREAM, "model": {"extra_args": {"load-format": "safetensors"}}},
     ("model.extra_args.load-format", "strategy stream sets --load-format runai_streamer")),
    ({"loading": STREAM, "model": {"trust_remote_code": True, "trust_remote_code_reason": "reviewed"}},
     ("model.trust_remote_code", "remote code is pinned by --revision, which only a model from the Hub has; with "
                                 "strategy stream nothing pins the code vLLM would run (use strategy download or "
                                 "prefetch)")),
], ids=["image-without-image", "floating-image", "stream-without-reason", "uri-without-stream",
        "prefetch-into-emptydir", "prefetch-into-rwo", "stream-and-load-format", "stream-and-remote-code"])
def test_what_a_strategy_lacks_is_refused(changes: dict[str, Any], expected: tuple[str, str]) -> None:
    assert errors(service(**changes)) == [expected]


def test_the_fleet_pins_model_images_where_policy_pins_images_and_reads_its_version_exactly() -> None:
    data = service(loading={"strategy": "image", "image": "registry.example.com/models/llama:v1"},
                   image={"tag": "v0.11.0", "digest": DIGEST})
    with pytest.raises(ValidationError) as info:
        fleet(data, profile="restricted")
    assert "the restricted profile pins images by digest (VI-IMG-001), model images too: add @sha256:<digest>" in \
        str(info.value)
    with pytest.raises(ValidationError) as info:
        FleetSpec.model_validate({"environment": "dev", "namespace": {"name": "llm"}, "kubernetes_version": 1.30,
                                  "services": [service()]})
    assert "write the version as a string ('1.3'): YAML reads 1.30 as the number 1.3" in str(info.value)
    with pytest.raises(ValidationError) as info:
        fleet(service(), kubernetes_version="1.24")
    assert "Kubernetes 1.24 is not supported (supported: 1.25-1.37, written as 1.N)" in str(info.value)


def test_a_prefetch_job_fills_the_shared_cache_and_serving_pods_wait_for_it_offline() -> None:
    objects = objects_of(service(loading={"strategy": "prefetch"}, storage=RWX_CACHE))
    job = find(objects, "Job")
    name = job["metadata"]["name"]
    assert name.startswith("llama-8b-prefetch-") and len(name) == len("llama-8b-prefetch-") + 8
    job_pod = job["spec"]["template"]
    assert "vllm-infra.io/service" not in job_pod["metadata"]["labels"]  # the Service never routes to it
    assert not set(find(objects, "Service")["spec"]["selector"].items()) <= set(job_pod["metadata"]["labels"].items())
    assert job_pod["spec"]["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 3
    assert job_pod["spec"]["volumes"][-1] == {"name": "model-cache",
                                              "persistentVolumeClaim": {"claimName": "llama-8b-model-cache"}}
    fetch = job_pod["spec"]["containers"][0]
    wanted, marker = fetch["command"][3], fetch["command"][3].rsplit('"', 2)[1]
    assert wanted.startswith('["meta-llama/Llama-3.1-8B-Instruct","0e9e39f249a16976918f6564b8830bc894c89659",[],')
    assert env_of(fetch)["NVIDIA_VISIBLE_DEVICES"] == "void" and "HF_HUB_OFFLINE" not in env_of(fetch)
    server_pod = pod_of(objects)
    gate = server_pod["initContainers"][0]
    assert (gate["name"], gate["command"][-1]) == ("await-prefetch", marker)
    server = server_pod["containers"][0]
    assert env_of(server)["HF_HUB_OFFLINE"] == "1"
    assert server["args"][:2] == ["meta-llama/Llama-3.1-8B-Instruct",
                                  "--revision=0e9e39f249a16976918f6564b8830bc894c89659"]
    egress = find(objects, "NetworkPolicy", "llama-8b")["spec"]["egress"]
    assert all(rule.get("ports") != [{"port": 443, "protocol": "TCP"}] for rule in egress)
    job_policy = find(objects, "NetworkPolicy", "llama-8b-prefetch")["spec"]
    assert job_policy["podSelector"] == {"matchLabels": {"vllm-infra.io/prefetch": "llama-8b"}}
    assert job_policy["ingress"] == [] and {"ports": [{"port": 443, "protocol": "TCP"}]} in job_policy["egress"]
    bumped = objects_of(service(loading={"strategy": "prefetch"}, storage=RWX_CACHE,
                                model={"revision": "5" * 40}))
    assert find(bumped, "Job")["metadata"]["name"] != name  # a Job's template is immutable: a new revision, a new Job
    upgraded = objects_of(service(loading={"strategy": "prefetch"}, storage=RWX_CACHE, image={"tag": "v0.12.0"}))
    assert find(upgraded, "Job")["metadata"]["name"] != name  # a new image too, for the same weights
    assert pod_of(upgraded)["initContainers"][0]["command"][-1] == marker  # which need not be fetched again


def test_a_model_image_is_an_image_volume_from_1_35_and_a_copy_before() -> None:
    data = service(loading={"strategy": "image", "image": MODEL_IMAGE})
    mounted = pod_of(objects_of(data, "1.35"))
    assert mounted["volumes"][-1] == {"name": "model-image", "image": {"reference": MODEL_IMAGE,
                                                                       "pullPolicy": "IfNotPresent"}}
    assert "initContainers" not in mounted
    server = mounted["containers"][0]
    assert {"name": "model-image", "mountPath": "/model-image", "readOnly": True} in server["volumeMounts"]
    assert server["args"][:2] == ["/model-image/models", "--served-model-name=meta-llama/Llama-3.1-8B-Instruct"]
    assert env_of(server)["HF_HUB_OFFLINE"] == "1"
    copied = pod_of(objects_of(data, "1.33"))
    assert copied["volumes"][-1] == {"name": "model-image", "emptyDir": {"sizeLimit": "16Gi"}}
    copy = copied["initContainers"][0]
    assert (copy["image"], copy["command"]) == (MODEL_IMAGE, ["cp", "-R", "/models", "/model-image/"])
    storage = {"requests": copied["containers"][0]["resources"]["requests"]["ephemeral-storage"],
               "mounted": mounted["containers"][0]["resources"]["requests"]["ephemeral-storage"]}
    assert storage == {"requests": "46Gi", "mounted": "30Gi"}  # 8Gi /tmp + 2Gi + 20Gi cache (+ 16Gi copied)


def test_a_stream_reads_s3_with_the_streamer_and_its_reason_as_the_waiver() -> None:
    objects = objects_of(service(loading=STREAM))
    server = pod_of(objects)["containers"][0]
    assert server["args"][0] == "s3://models/llama-3.1-8b" and "--load-format=runai_streamer" in server["args"]
    assert not any(arg.startswith("--revision") for arg in server["args"])
    annotations = find(objects, "Deployment")["metadata"]["annotations"]
    assert annotations["vllm-infra.io/waive.VI-IMG-002"] == "accepts=s3://models/llama-3.1-8b; write-once bucket"
    assert {"ports": [{"port": 443, "protocol": "TCP"}]} in find(objects, "NetworkPolicy")["spec"]["egress"]


def test_start_up_budgets_follow_the_strategy() -> None:
    """Llama-3.1-70B bf16 on 4 H100s: a download at start takes 780s of startup probe; from a prefetched
    cache or a model image only the load (the 600s minimum), but a model image is pulled and unpacked
    first (720s), which a scale-from-zero waits for too; the prefetch Job's download (540s) is what a
    first rollout waits for."""
    def resolved(loading: dict[str, Any], **changes: Any) -> Any:
        data = service(model=LLAMA_70B, accelerator={"type": "H100-80GB"}, parallelism={"tensor": 4},
                       loading=loading, **changes)
        return VllmServiceSpec.model_validate(data).resolved

    download = resolved({})
    prefetched = resolved({"strategy": "prefetch"}, storage=RWX_CACHE)
    image = resolved({"strategy": "image", "image": MODEL_IMAGE},
                     autoscaling={"min_replicas": 0, "max_replicas": 2, "backend": "keda",
                                  "prometheus_url": "http://prometheus:9090",
                                  "activation": {"query": "sum(rate(requests_total[2m]))"}})
    streamed = resolved(STREAM)
    assert [(s.startup_probe_budget, s.pull_before_start, s.prefetch_seconds)
            for s in (download, prefetched, image, streamed)] == [(780, 0, 0), (600, 0, 540), (600, 720, 0),
                                                                  (600, 0, 0)]
    assert image.scale_to_zero_cooldown == image.cold_start == 1320
    assert prefetched.await_budget - download.await_budget == 540 - 180


@pytest.mark.parametrize(("loading", "storage", "version"), [
    ({"strategy": "prefetch"}, RWX_CACHE, "1.33"),
    ({"strategy": "image", "image": MODEL_IMAGE}, {}, "1.33"),
    ({"strategy": "image", "image": MODEL_IMAGE}, {}, "1.35"),
    (STREAM, {}, "1.33"),
], ids=["prefetch", "image-copied", "image-volume", "stream"])
def test_each_strategy_renders_what_check_passes_on_its_cluster(loading: dict[str, Any], storage: dict[str, Any],
                                                                version: str) -> None:
    spec = fleet(service(loading=loading, storage=storage, image={"tag": "v0.11.0", "digest": DIGEST},
                         availability={"replicas": 2}), version, profile="restricted")
    report = check_objects(render_fleet(spec), "loading", profile=Profile.RESTRICTED, kubernetes_version=version)
    assert [(f.rule.id, f.message) for f in report.findings
            if f.waiver is None and f.severity.rank >= Severity.LOW.rank and f.rule.id != "VI-GPU-005"] == []


def test_an_image_volume_rendered_for_1_35_is_refused_on_1_33() -> None:
    objects = objects_of(service(loading={"strategy": "image", "image": MODEL_IMAGE}), "1.35")
    report = check_objects(objects, "loading", profile=Profile.DEV, kubernetes_version="1.33")
    assert [(f.rule.id, f.message) for f in report.gating()] == [
        ("VI-IMG-004", "volume 'model-image' is an image volume, off by default on Kubernetes 1.33 (on from 1.35): "
                       "the API server refuses the pod")]


IMAGE_VOLUME_SERVER = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: llama, namespace: llm, labels: {app: llama}}
spec:
  replicas: 1
  selector: {matchLabels: {app: llama}}
  template:
    metadata: {labels: {app: llama}}
    spec:
      nodeSelector: {nvidia.com/gpu.product: NVIDIA-L4}
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [/models/llama, --served-model-name, meta-llama/Llama-3.1-70B-Instruct]
          env: [{name: HF_HUB_OFFLINE, value: "1"}]
          resources: {limits: {nvidia.com/gpu: 1}}
          volumeMounts: [{name: model, mountPath: /models}]
      volumes:
        - name: model
          image: {reference: "quay.io/acme/llama-70b:latest", pullPolicy: IfNotPresent}
"""
"""The image-volume task page's pod, serving a modelcar: a moving tag, on 1.33, a 70B model on one L4."""

STREAMER_SERVER = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: llama, namespace: llm, labels: {app: llama}}
spec:
  replicas: 1
  selector: {matchLabels: {app: llama}}
  template:
    metadata: {labels: {app: llama}}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          command: [vllm, serve, s3://core-llm/Llama-3-8b, --load-format, runai_streamer]
          resources: {limits: {nvidia.com/gpu: 1}}
        - name: download
          image: vllm/vllm-openai:v0.11.0
          command: [huggingface-cli, download, meta-llama/Llama-3.1-8B-Instruct]
"""
"""vLLM's Run:ai streamer page's command in a Deployment, with a download container of the vLLM image."""


def _messages(tmp_path: Path, text: str, rule_ids: list[str]) -> list[tuple[str, str]]:
    path = tmp_path / "server.yaml"
    path.write_text(text)
    report = run_check([str(path)], profile=Profile.DEV, rule_ids=rule_ids)
    return [(f.rule.id, f.message) for f in report.findings if f.waiver is None]


def test_a_hand_written_modelcar_server_is_sized_by_its_served_name_and_its_image_judged(tmp_path: Path) -> None:
    found = dict(_messages(tmp_path, IMAGE_VOLUME_SERVER, ["VI-IMG-001", "VI-IMG-004", "VI-CAP-001", "VI-CAP-002"]))
    assert sorted(found) == ["VI-CAP-001", "VI-IMG-001", "VI-IMG-004"]
    assert found["VI-IMG-001"] == "image quay.io/acme/llama-70b:latest floats (no tag, or a moving tag such as " \
                                  "'latest' or 'nightly')"
    assert found["VI-CAP-001"].startswith("meta-llama/Llama-3.1-70B-Instruct (TP=1, PP=1, vLLM 0.11.0) on 1 x L4 does "
                                          "not fit")


def test_a_hand_written_streamer_is_judged_and_a_download_container_is_no_server(tmp_path: Path) -> None:
    found = _messages(tmp_path, STREAMER_SERVER, ["VI-IMG-002", "VI-RES-006", "VI-SEC-009"])
    assert ("VI-IMG-002", "model s3://core-llm/Llama-3-8b is read from object storage, which no revision pins: the "
                          "weights change when the objects do") in found
    assert [message for _rule, message in found if "download" in message] == []
    assert not is_vllm_container({"image": "vllm/vllm-openai:v0.11.0",
                                  "command": ["python3", "-c", "import huggingface_hub"]})
    assert is_vllm_container({"image": "vllm/vllm-openai:v0.11.0",
                              "command": ["python3", "-c", "import runpy; runpy.run_module('vllm.entrypoints.cli')"]})
    assert is_vllm_container({"image": "vllm/vllm-openai:v0.11.0", "command": ["/entrypoint.sh"]})


@pytest.mark.parametrize(("loading", "what"), [
    ({}, "downloading and loading"), ({**STREAM, "transfer_mib_per_s": 100}, "streaming")])
def test_a_startup_timeout_below_the_estimate_names_what_the_strategy_does(loading: dict[str, Any], what: str) -> None:
    data = service(model=LLAMA_70B, accelerator={"type": "H100-80GB"}, parallelism={"tensor": 4}, loading=loading,
                   lifecycle={"startup_timeout": 600})
    [(where, message)] = errors(data)
    assert where == "lifecycle.startup_timeout"
    assert f"vllm-infra estimates for {what} meta-llama/Llama-3.1-70B-Instruct on 4 GPU(s)" in message


def test_check_judges_a_tree_under_the_kubernetes_version_synth_rendered_it_for(tmp_path: Path) -> None:
    """A stack on 1.35 renders its model image as an image volume; `check` on the written tree reads
    1.35 from the tree's marker (no flag to copy into a workflow), and says so when trees disagree."""
    from typer.testing import CliRunner

    from vllm_infra.cli import app

    stacks = tmp_path / "stacks"
    stacks.mkdir()
    fleet_data = {"environment": "lab", "policy_profile": "dev", "namespace": {"name": "llm"},
                  "kubernetes_version": "1.35",
                  "services": [service(loading={"strategy": "image", "image": MODEL_IMAGE})]}
    (stacks / "Pulumi.yaml").write_text("name: lab\nruntime: python\n")
    (stacks / "Pulumi.lab.yaml").write_text("config:\n  vllm-infra:fleet: " + json.dumps(fleet_data) + "\n")
    runner = CliRunner()
    out = tmp_path / "manifests"
    assert runner.invoke(app, ["synth", "--stacks-dir", str(stacks), "--out", str(out), "-q"]).exit_code == 0
    judged = runner.invoke(app, ["check", str(out / "lab"), "-q"])
    assert judged.exit_code == 0, judged.stdout
    assert "Kubernetes 1.35" in judged.stdout.splitlines()[-1]
    assert runner.invoke(app, ["check", str(out / "lab"), "--kubernetes-version", "1.33", "-q"]).exit_code == 1
    other = out / "old"
    other.mkdir()
    (other / ".vllm-infra-stack").write_text("stack: old\npolicy_profile: dev\nkubernetes_version: 1.31\n")
    (other / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: llm}\n")
    mixed = runner.invoke(app, ["check", str(out / "lab"), str(other), "-o", "json", "-q"])
    assert "the rendered trees were rendered for Kubernetes 1.31, 1.35; judged under 1.33 (check each tree, or " \
           "pass --kubernetes-version)" in json.loads(mixed.stdout)["notices"]
