"""What Ray runs beyond its pod templates: a RayService's Serve config (``spec.serveConfigV2``, YAML
inside a string, which KubeRay hands to Ray as written) and a RayJob's ``runtimeEnvYAML``. Each
Serve application has a ``runtime_env`` (packages Ray installs when the replica starts) and, for
Ray Serve LLM applications, ``llm_configs`` whose ``engine_kwargs`` are vLLM's engine arguments."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from vllm_infra.checker.reading.objects import Manifest, as_list, dig
from vllm_infra.checker.reading.views import view
from vllm_infra.vocabulary.paths import FieldPath

SERVE_CONFIG: FieldPath = ("spec", "serveConfigV2")
JOB_RUNTIME_ENV: FieldPath = ("spec", "runtimeEnvYAML")
INSTALLERS = ("pip", "uv", "conda")
"""``runtime_env`` fields that make Ray install packages as the worker starts (``conda`` as a
mapping: an environment to build; as a string it names one that exists)."""


@dataclass(frozen=True)
class RuntimeEnv:
    """One ``runtime_env`` and who it belongs to."""

    path: FieldPath
    """The manifest field holding the YAML (findings point there)."""
    owner: str
    """Who it belongs to, for messages (``application 'llm'``, ``the job``)."""
    env: Mapping[str, Any]


@dataclass(frozen=True)
class LlmConfig:
    """One Ray Serve LLM ``llm_configs`` entry."""

    application: str
    model: str | None
    engine_kwargs: Mapping[str, Any]


def _yaml(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None  # Ray refuses it too; the manifest's schema and the operator report it


def serve_config(obj: Manifest) -> Mapping[str, Any]:
    """The RayService's Serve config, parsed (empty when absent or unreadable)."""
    return view("serve_config", obj, lambda o: found if isinstance(found := _yaml(dig(o, *SERVE_CONFIG)), Mapping)
                else {})


def _applications(obj: Manifest) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for index, app in enumerate(as_list(serve_config(obj).get("applications"))):
        if isinstance(app, Mapping):
            yield str(app.get("name") or f"#{index}"), app


def runtime_envs(obj: Manifest) -> Iterator[RuntimeEnv]:
    """Every ``runtime_env`` the object gives Ray: per Serve application, per LLM config, per job."""
    for name, app in _applications(obj):
        if isinstance(app.get("runtime_env"), Mapping):
            yield RuntimeEnv(SERVE_CONFIG, f"application '{name}'", app["runtime_env"])
        for config in as_list(dig(app, "args", "llm_configs")):
            if isinstance(config, Mapping) and isinstance(config.get("runtime_env"), Mapping):
                yield RuntimeEnv(SERVE_CONFIG, f"application '{name}'", config["runtime_env"])
    job_env = _yaml(dig(obj, *JOB_RUNTIME_ENV))
    if isinstance(job_env, Mapping):
        yield RuntimeEnv(JOB_RUNTIME_ENV, "the job", job_env)


def installed_packages(env: Mapping[str, Any]) -> tuple[str, str] | None:
    """(field, what it installs) when a runtime_env installs packages at start, else None."""
    for key in INSTALLERS:
        value = env.get(key)
        if key == "conda" and not isinstance(value, Mapping):
            continue
        packages = dig(value, "packages") if isinstance(value, Mapping) and key != "conda" else value
        if packages:
            shown = ", ".join(map(str, as_list(packages))) if not isinstance(packages, Mapping) else "an environment"
            return key, shown
    return None


def llm_configs(obj: Manifest) -> tuple[LlmConfig, ...]:
    """The Ray Serve LLM configs of a RayService (model from ``model_loading_config.model_source``,
    else ``model_id``)."""
    configs = []
    for name, app in _applications(obj):
        for config in as_list(dig(app, "args", "llm_configs")):
            if not isinstance(config, Mapping):
                continue
            loading = config.get("model_loading_config")
            model = (dig(loading, "model_source") or dig(loading, "model_id")) if isinstance(loading, Mapping) \
                else None
            kwargs = config.get("engine_kwargs")
            configs.append(LlmConfig(name, str(model) if model else None,
                                     kwargs if isinstance(kwargs, Mapping) else {}))
    return tuple(configs)
