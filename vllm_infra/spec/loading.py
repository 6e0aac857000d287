"""How the model's weights reach the GPUs: downloaded by vLLM at start, prefetched once into a
shared cache by a Job, shipped in an OCI image, or streamed from object storage."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from vllm_infra.spec.base import Problem, SpecModel, raise_problems
from vllm_infra.vocabulary.kubernetes import FLOATING_TAG, image_parts


class LoadingStrategy(StrEnum):
    """Where the weights come from when a pod starts."""

    DOWNLOAD = "download"
    """vLLM downloads the model from the Hugging Face Hub into the model cache when it starts."""
    PREFETCH = "prefetch"
    """A Job downloads the model (and adapters) once into the shared model-cache PVC; pods wait
    for it to finish and start offline."""
    IMAGE = "image"
    """The weights are files in an OCI image (a "modelcar"): mounted as an image volume where the
    cluster enables them (Kubernetes 1.35+), else copied into an emptyDir by an init container."""
    STREAM = "stream"
    """The Run:ai model streamer reads safetensors from S3 straight into GPU memory
    (``--load-format runai_streamer``)."""


ModelImage = Annotated[str, StringConstraints(
    pattern=r"^[a-z0-9]+([._/:-][a-z0-9]+)*(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$", max_length=400)]
ObjectUri = Annotated[str, StringConstraints(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[\w.\-/]*)?$",
                                             max_length=1000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class LoadingSpec(SpecModel):
    """The loading strategy and what it needs; the start-up budget, probes, rollouts and the KEDA
    cooldown follow from it."""

    strategy: LoadingStrategy = LoadingStrategy.DOWNLOAD
    """Where the weights come from. Default: ``download``."""

    image: ModelImage | None = None
    """With ``image``: the OCI image holding the model's files under ``/models`` (KServe's modelcar
    layout), pinned by digest where policy wants digests. The copying init container (clusters before
    1.35) runs the image's ``cp`` as the pod's user, so the image needs one and world-readable files
    (modelcars built ``FROM busybox`` have both). Default: none."""

    uri: ObjectUri | None = None
    """With ``stream``: the S3 prefix holding the model's safetensors, config and tokenizer
    (credentials through ``secret_env`` AWS variables or the pod's cloud identity). Default: none."""

    unpinned_reason: Reason | None = None
    """With ``stream``: why the object-store prefix, which no revision pins, may be served (e.g. a
    write-once bucket); rendered as the waiver of VI-IMG-002. Default: none (required with ``stream``)."""

    transfer_mib_per_s: int | None = Field(default=None, gt=0, le=100_000)
    """Throughput of the transfer the strategy depends on (Hub download at start or in the prefetch
    Job, image pull, object-store stream) in MiB/s, for the start-up budget and the Job's deadline.
    Default: 250 for downloads and pulls, 1000 for the streamer."""

    @model_validator(mode="after")
    def _check(self) -> LoadingSpec:
        problems = []
        image, uri = self.strategy == LoadingStrategy.IMAGE, self.strategy == LoadingStrategy.STREAM
        if image and self.image is None:
            problems.append(Problem(("image",), "strategy image needs 'image' (the model image to mount)", None))
        if not image and self.image is not None:
            problems.append(Problem(("image",), "only used with strategy image", self.image))
        _repository, tag, digest = image_parts(self.image) if self.image is not None else (None, None, None)
        if self.image is not None and digest is None and (tag is None or FLOATING_TAG.match(tag)):
            problems.append(Problem(("image",), "the model image floats (no tag, or a moving tag): pin a tag and, "
                                    "for production, a digest", self.image))
        if uri and self.uri is None:
            problems.append(Problem(("uri",), "strategy stream needs 'uri' (s3://bucket/prefix)", None))
        if not uri and self.uri is not None:
            problems.append(Problem(("uri",), "only used with strategy stream", self.uri))
        if uri and self.unpinned_reason is None:
            problems.append(Problem(("unpinned_reason",), "no revision pins an object-store prefix: say why it can be "
                                    "served (reviewers see it as the VI-IMG-002 waiver)", None))
        if not uri and self.unpinned_reason is not None:
            problems.append(Problem(("unpinned_reason",), "only used with strategy stream", self.unpinned_reason))
        raise_problems("LoadingSpec", problems)
        return self

    @property
    def image_pinned(self) -> bool:
        """Whether the model image is pinned by digest."""
        return self.image is not None and image_parts(self.image)[2] is not None
