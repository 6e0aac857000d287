"""The vLLM server in a container: whether it runs vLLM, its engine flags as vLLM's parser reads
them, its release, where it listens, and the workloads that run it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vllm_infra.catalog.huggingface import is_repository_id
from vllm_infra.catalog.vllm import VLLM_DEFAULT_PORT, VllmVersion
from vllm_infra.catalog.vllm_releases import FlagKind, FlagUse, release_catalog
from vllm_infra.checker.reading.commands import command_line
from vllm_infra.checker.reading.objects import Manifest
from vllm_infra.checker.reading.templates import ContainerRef, PodTemplate, containers, pod_templates
from vllm_infra.checker.reading.views import view
from vllm_infra.vocabulary.kubernetes import (
    CUSTOM_POD_TEMPLATES,
    SERVING_KINDS,
    VLLM_OPERATOR_KINDS,
    group_kind,
    image_parts,
)
from vllm_infra.vocabulary.paths import FieldPath


def _server_start(argv: tuple[str, ...]) -> int | None:
    """Where the server's own arguments begin in a command: after ``vllm serve`` or the API
    server module (``python -m vllm.entrypoints.openai.api_server``); None when it starts no server."""
    for index, word in enumerate(argv):
        if word == "serve" and index > 0 and argv[index - 1].rsplit("/", 1)[-1] == "vllm":
            return index + 1
        if word.startswith("vllm.entrypoints") and index > 0 and argv[index - 1] == "-m":
            return index + 1
    return None


OTHER_PROGRAMS = frozenset({"huggingface-cli", "hf", "cp", "rsync", "sleep", "aws", "gsutil", "gcloud", "s5cmd",
                            "rclone"})
"""Programs a vLLM image also holds that start no server: the downloaders and copiers prefetch Jobs
and init containers run."""


def _starts_other_program(argv: tuple[str, ...]) -> bool:
    """A command that is surely not the server: inline Python that never names vLLM, or a known
    downloader or copier."""
    program = argv[0].rsplit("/", 1)[-1] if argv else ""
    if program.startswith("python") and "-c" in argv[1:2]:
        return len(argv) > 2 and "vllm" not in argv[2]
    return program in OTHER_PROGRAMS


def is_vllm_container(container: Mapping[str, Any]) -> bool:
    """Runs vLLM: a command starts the vLLM server, or the image is a vLLM image whose entrypoint is
    kept or replaced by something that may start it (a ``command`` running only other programs
    replaces vLLM's entrypoint: such a container downloads or copies, it does not serve)."""
    vllm_image = "vllm" in image_parts(str(container.get("image", "")))[0].lower()
    if vllm_image and not container.get("command"):
        return True  # the image's own entrypoint runs
    commands = command_line(container).commands
    if any(_server_start(command.argv) is not None for command in commands):
        return True
    if container.get("command") and commands and all(_starts_other_program(command.argv) for command in commands):
        return False
    return vllm_image


def serving_container(template: PodTemplate) -> ContainerRef | None:
    """The vLLM container of a pod template, if any (first match)."""
    for ref in containers(template, include_init=False):
        if is_vllm_container(ref.spec):
            return ref
    return None


@dataclass(frozen=True)
class EngineArgs:
    """Parsed ``vllm serve`` arguments of a container."""

    model: str | None
    flags: dict[str, str | bool] = field(default_factory=dict)
    shell: bool = False
    exec_form: bool = True
    """Whether vLLM becomes PID 1 (exec form, or ``exec`` inside ``sh -c``)."""
    argv: tuple[str, ...] = ()
    """The server's own arguments as written (after ``serve`` or the entrypoint module)."""
    server_args: bool = False
    """Whether ``argv`` surely goes to the vLLM server: after ``vllm serve`` or the entrypoint
    module, or ``args`` alone handed to a vLLM image's own entrypoint."""

    def flag(self, name: str) -> str | bool | None:
        """Value of ``--name`` (True for a bare flag; None when absent)."""
        return self.flags.get(name)

    def number(self, name: str) -> float | None:
        """Numeric value of ``--name`` (None when absent or not a number)."""
        value = self.flags.get(name)
        try:
            return float(value) if isinstance(value, str) else None
        except ValueError:
            return None

    def integer(self, name: str, default: int) -> int | None:
        """Integer value of ``--name``: ``default`` when absent, None when it does not read as one."""
        value = self.flags.get(name)
        if value is None:
            return default
        text = str(value)
        return int(text) if text.isdigit() else None

    @property
    def repository(self) -> str | None:
        """The Hugging Face id the weights are of: the model argument, or for a local path (an image
        volume, a prefetched cache) or an object-store URI the first served model name when it reads as
        one (``org/name``): what clients ask for names what was copied there."""
        model = self.model
        if model is None or not (model.startswith(("/", ".")) or "://" in model):
            return model
        served = self.flags.get("served-model-name")
        first = served.split()[0] if isinstance(served, str) and served.strip() else ""
        return first if is_repository_id(first) else None

    @property
    def parallelism(self) -> Parallelism:
        """Tensor, pipeline and data parallel sizes (1 when absent, None when unreadable), the data
        parallel ranks on this pod (``--data-parallel-size-local``, 0 when absent) and whether the
        experts are split over the ranks (``--enable-expert-parallel``)."""
        return Parallelism(self.integer("tensor-parallel-size", 1), self.integer("pipeline-parallel-size", 1),
                           self.integer("data-parallel-size", 1), self.integer("data-parallel-size-local", 0),
                           self.flags.get("enable-expert-parallel") is True)


@dataclass(frozen=True)
class Parallelism:
    """How vLLM splits the model over GPUs, as its flags say (None: a size that does not read)."""

    tensor: int | None
    pipeline: int | None
    data: int | None
    data_local: int | None = 0
    expert: bool = False

    @property
    def world_size(self) -> int:
        """GPUs one server uses: TP x PP x DP, counting unreadable sizes as 1."""
        return (self.tensor or 1) * (self.pipeline or 1) * (self.data or 1)

    @property
    def rank_gpus(self) -> int:
        """GPUs of one data-parallel rank (TP x PP): what each GPU's memory is sized by."""
        return (self.tensor or 1) * (self.pipeline or 1)

    def fills(self, gpus_per_pod: int, pods: int) -> bool:
        """Whether a group of ``pods`` pods with ``gpus_per_pod`` GPUs each holds exactly the GPUs the
        flags use: every rank of the server, or with ``--data-parallel-size-local`` the ranks on this
        pod (the others run in pods of their own, joined by ``--data-parallel-address``)."""
        if self.world_size == gpus_per_pod * pods:
            return True
        return bool(self.data_local) and self.rank_gpus * (self.data_local or 0) == gpus_per_pod


def engine_args(container: Mapping[str, Any]) -> EngineArgs:
    """Parse the vLLM server's arguments from command/args (plain or ``sh -c`` scripts)."""
    return view("engine_args", container, _engine_args)


def _engine_args(container: Mapping[str, Any]) -> EngineArgs:
    line = command_line(container)
    for command in line.commands:
        start = _server_start(command.argv)
        if start is not None:
            argv = command.argv[start:]
            model, flags = _read_flags(argv, catalogued_version(str(container.get("image", ""))))
            return EngineArgs(model, flags, line.shell is not None, command.replaces_shell, argv, True)
    # no vllm serve: args alone handed to a vLLM image's own entrypoint are the server's
    entrypoint = not container.get("command") and bool(container.get("args")) and \
        "vllm" in image_parts(str(container.get("image", "")))[0].lower()
    argv = line.argv if entrypoint else ()
    model, flags = _read_flags(argv, catalogued_version(str(container.get("image", ""))))
    return EngineArgs(model, flags, line.shell is not None, line.shell is None, argv, entrypoint)


def _read_flags(argv: tuple[str, ...], version: VllmVersion | None) -> tuple[str | None, dict[str, str | bool]]:
    """(model, flags by canonical name) as vLLM's parser reads ``argv``: switches take no value,
    ``--no-x`` is False, ``-tp 2`` is ``tensor-parallel-size``; unknown flags keep their spelling."""
    catalog = release_catalog() if any(token.startswith("-") for token in argv) else None
    reading = version or (catalog.newest.version if catalog else None)
    model: str | None = None
    flags: dict[str, str | bool] = {}
    position = 0
    while position < len(argv):
        token = argv[position]
        resolved = catalog.resolve(token, reading) if catalog and reading and token.startswith("-") else None
        known = resolved.flag if resolved is not None and resolved.use != FlagUse.UNKNOWN else None
        following = argv[position + 1] if position + 1 < len(argv) else None
        attached = "=" in token or (token.startswith("-O") and len(token) > 2)
        if _is_short_option(token):
            if known is not None:
                consumes = known.takes_value and not attached and following is not None
                flags[known.name[2:]] = following if consumes and following else (
                    token.split("=", 1)[1] if "=" in token else True)
                position += consumes
        elif token.startswith("--"):
            name, _, value = token[2:].partition("=")
            name = known.name[2:] if known is not None else name.replace("_", "-")
            takes_value = known is None or known.takes_value
            if resolved is not None and resolved.use == FlagUse.NEGATED:
                flags[name] = False
            elif value:
                flags[name] = value
            elif takes_value and following is not None and not following.startswith("--"):
                taken = 1
                if known is not None and known.kind == FlagKind.LIST:  # nargs='+': up to the next option
                    while position + 1 + taken < len(argv) and not argv[position + 1 + taken].startswith("-"):
                        taken += 1
                flags[name] = " ".join(argv[position + 1:position + 1 + taken])
                position += taken
            else:
                flags[name] = True
        elif model is None and not token.startswith("-"):
            model = token
        position += 1
    if "model" in flags and isinstance(flags["model"], str):
        model = model or flags["model"]
    return model, flags


def image_version(container: Mapping[str, Any], labels: Mapping[str, str]) -> VllmVersion | None:
    """vLLM release from the image tag, else from the ``app.kubernetes.io/version`` label."""
    _repo, tag, _digest = image_parts(str(container.get("image", "")))
    return VllmVersion.parse(tag or "") or VllmVersion.parse(str(labels.get("app.kubernetes.io/version", "")))


def _is_short_option(token: str) -> bool:
    return len(token) > 1 and token[0] == "-" and token[1] != "-" and not token[1].isdigit()


def catalogued_version(image: str) -> VllmVersion | None:
    """The vLLM release an image's tag names, when the release catalog covers it."""
    version = VllmVersion.parse(image_parts(image)[1] or "")
    if version is None:
        return None
    return version if release_catalog().covers(version) else None


def api_ports(container: Mapping[str, Any]) -> set[str | int]:
    """Where the vLLM server listens: ``--port`` (default 8000) and the port names declared for it."""
    port = engine_args(container).flag("port")
    ports: set[str | int] = {int(port) if isinstance(port, str) and port.isdigit() else VLLM_DEFAULT_PORT}
    for item in container.get("ports") or []:
        if isinstance(item, Mapping) and item.get("containerPort") in ports and item.get("name"):
            ports.add(str(item["name"]))
    return ports


def args_path(ref: ContainerRef) -> FieldPath:
    """Where the engine flags live (for findings)."""
    return (*ref.path, "args") if ref.spec.get("args") else (*ref.path, "command")


def vllm_pod_templates(obj: Manifest) -> tuple[tuple[PodTemplate, ContainerRef], ...]:
    """(template, serving container) for every template of a workload that runs vLLM."""
    return view("vllm_pod_templates", obj, _vllm_pod_templates)


def _vllm_pod_templates(obj: Manifest) -> tuple[tuple[PodTemplate, ContainerRef], ...]:
    return tuple((template, ref) for template in pod_templates(obj)
                 if (ref := serving_container(template)) is not None)


def is_vllm_workload(obj: Manifest) -> bool:
    """A serving workload with at least one vLLM container."""
    return obj.get("kind") in SERVING_KINDS and bool(vllm_pod_templates(obj))


def runs_vllm(obj: Manifest) -> bool:
    """Anything that runs vLLM: a pod template with a vLLM container, or a custom resource whose
    operator starts vLLM from its own fields."""
    return bool(vllm_pod_templates(obj)) or group_kind(obj) in VLLM_OPERATOR_KINDS


def is_operator_resource(obj: Manifest) -> bool:
    """A custom resource whose operator creates pods (and labels them beyond any template we see)."""
    return group_kind(obj) in CUSTOM_POD_TEMPLATES or group_kind(obj) in VLLM_OPERATOR_KINDS

