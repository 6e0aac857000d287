"""How the API is reached and observed: Service, Prometheus scraping, NetworkPolicy."""

from __future__ import annotations

from pydantic import Field, field_validator

from vllm_infra.catalog.vllm import VLLM_DEFAULT_PORT
from vllm_infra.spec.base import DnsLabel, Int32, LabelValue, QualifiedName, Seconds, SecretKeyRef, SpecModel
from vllm_infra.vocabulary.credentials import looks_like_credential
from vllm_infra.vocabulary.kubernetes import WAIVER_ANNOTATION_PREFIX


class ServiceSpec(SpecModel):
    """The ClusterIP Service in front of the model server."""

    port: Int32 = Field(default=VLLM_DEFAULT_PORT, ge=1024, le=65535)
    """Port of the OpenAI-compatible API and ``/metrics`` on the container and the Service
    (1024+, since the server runs as non-root). Default: 8000."""

    annotations: dict[QualifiedName, str] = Field(default_factory=dict)
    """Extra Service annotations; no waivers (those come from the spec's typed reasons) and no
    credentials. Default: none."""

    @field_validator("annotations")
    @classmethod
    def _no_waivers_or_credentials(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if key.startswith(WAIVER_ANNOTATION_PREFIX):
                raise ValueError(f"{key}: waivers are not set by annotation here; the spec's typed reasons "
                                 "(e.g. image.unpinned_reason) render the waivers it allows")
            if looks_like_credential(text):
                raise ValueError(f"{key}: the value looks like a credential, and annotations are readable by anyone "
                                 "who can list Services")
        return value


class MetricsSpec(SpecModel):
    """Prometheus scraping of vLLM's ``/metrics``."""

    scrape_annotations: bool = True
    """Add ``prometheus.io/scrape``, ``prometheus.io/port`` and ``prometheus.io/path`` to pods.
    Default: true."""

    service_monitor: bool = False
    """Render a Prometheus Operator ServiceMonitor. Default: false."""

    service_monitor_labels: dict[QualifiedName, LabelValue] = Field(default_factory=dict)
    """Labels the Prometheus instance selects ServiceMonitors by (e.g. ``release: prometheus``).
    Default: none."""

    scrape_interval: Seconds = Field(default=15, ge=1)
    """ServiceMonitor scrape interval. Default: 15s."""


class NetworkPolicySpec(SpecModel):
    """Default-deny NetworkPolicy around the model server."""

    enabled: bool = True
    """Render the NetworkPolicy; fleets require one in every profile (VI-NET-001). Default: true."""

    api_client_namespaces: list[DnsLabel] = Field(default_factory=list)
    """Namespaces (gateway, router, apps) whose pods may call the API; the service's own namespace
    is always allowed. Default: none."""

    metrics_namespaces: list[DnsLabel] = Field(default_factory=lambda: ["monitoring"])
    """Namespaces whose pods may scrape ``/metrics``. Default: ``monitoring``."""


class SecuritySpec(SpecModel):
    """Identity of the vLLM processes; the container always runs non-root, with a read-only root
    filesystem, no privilege escalation, all capabilities dropped and the RuntimeDefault seccomp
    profile."""

    run_as_user: Int32 = Field(default=1000, ge=1)
    """UID of the vLLM processes. Default: 1000."""

    run_as_group: Int32 = Field(default=1000, ge=1)
    """GID of the vLLM processes. Default: 1000."""

    fs_group: Int32 = Field(default=1000, ge=1)
    """Group that owns mounted volumes, so the cache PVC is writable. Default: 1000."""

    api_key_secret: SecretKeyRef | None = None
    """Secret holding the API key clients must send (exposed as ``VLLM_API_KEY``). Default: none."""

