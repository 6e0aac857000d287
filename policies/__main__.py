"""CrossGuard policy pack: `pulumi preview --policy-pack policies` from the repository root.

The profile comes from VLLM_INFRA_POLICY_PROFILE (restricted, dev or rdma; default restricted), the
cluster's Kubernetes version from VLLM_INFRA_KUBERNETES_VERSION (default 1.33); the workflows take both
from the rendered tree's marker.
"""

import os

from vllm_infra.pulumi.crossguard import policy_pack
from vllm_infra.vocabulary.kubernetes import KUBERNETES_VERSION
from vllm_infra.vocabulary.reporting import Profile

policy_pack(Profile(os.environ.get("VLLM_INFRA_POLICY_PROFILE", Profile.RESTRICTED.value)),
            os.environ.get("VLLM_INFRA_KUBERNETES_VERSION") or KUBERNETES_VERSION)
