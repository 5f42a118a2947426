"""The shipped cluster configs: Ray cluster-launcher and KubeRay manifests checked at the schema level (no
cloud or Kubernetes here), and the GPU sweep files validated like every other sweep file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from toolsweep.cli import main
from toolsweep.config import load_sweep

CLUSTER = Path(__file__).parents[2] / "configs" / "cluster"


def _yaml(name: str) -> dict:
    return yaml.safe_load((CLUSTER / name).read_text())


def test_aws_launcher_config_has_a_head_and_autoscaling_gpu_workers_that_install_toolsweep() -> None:
    config = _yaml("aws-gpu.yaml")
    for key in ("cluster_name", "max_workers", "provider", "auth", "available_node_types", "head_node_type",
                "setup_commands", "head_start_ray_commands", "worker_start_ray_commands"):
        assert key in config, key
    assert config["provider"]["type"] == "aws" and config["provider"]["region"]
    types = config["available_node_types"]
    assert config["head_node_type"] in types
    workers = [t for name, t in types.items() if name != config["head_node_type"]]
    assert workers and all(t["node_config"]["InstanceType"].startswith(("g5.", "g6.", "p4", "p5")) for t in workers)
    assert all(t["max_workers"] > t["min_workers"] >= 0 for t in workers)  # the autoscaler can add GPU nodes
    assert any("toolsweep" in command for command in config["setup_commands"])
    assert any("ray start --head" in c and "--autoscaling-config" in c for c in config["head_start_ray_commands"])
    assert any("$RAY_HEAD_IP:6379" in c for c in config["worker_start_ray_commands"])


def _check_ray_cluster_spec(spec: dict) -> None:
    head = spec["headGroupSpec"]
    assert head["rayStartParams"]["dashboard-host"] == "0.0.0.0"
    assert head["template"]["spec"]["containers"][0]["image"]
    groups = spec["workerGroupSpecs"]
    assert groups
    for group in groups:
        assert group["groupName"] and group["maxReplicas"] >= group["minReplicas"] >= 0
        container = group["template"]["spec"]["containers"][0]
        assert int(container["resources"]["limits"]["nvidia.com/gpu"]) >= 1
        assert container["resources"]["limits"] == container["resources"]["requests"]


def test_kuberay_raycluster_manifest() -> None:
    manifest = _yaml("kuberay-raycluster.yaml")
    assert manifest["apiVersion"] == "ray.io/v1" and manifest["kind"] == "RayCluster"
    assert manifest["metadata"]["name"]
    _check_ray_cluster_spec(manifest["spec"])


def test_kuberay_rayjob_manifest_runs_toolsweep_on_a_mounted_sweep_file() -> None:
    manifest = _yaml("kuberay-rayjob.yaml")
    assert manifest["apiVersion"] == "ray.io/v1" and manifest["kind"] == "RayJob"
    spec = manifest["spec"]
    assert spec["entrypoint"].startswith("toolsweep run ")
    assert spec["shutdownAfterJobFinishes"] is True
    _check_ray_cluster_spec(spec["rayClusterSpec"])
    sweep_path = Path(spec["entrypoint"].split()[2])
    head = spec["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in head["containers"][0]["volumeMounts"]}
    assert mounts.get(str(sweep_path.parent)) in {v["name"] for v in head["volumes"]}
    assert (CLUSTER / sweep_path.name).is_file()  # the file the ConfigMap is created from ships with us


@pytest.mark.parametrize("name", ["gpu_qwen.yaml", "gpu_qwen_zero3.yaml"])
def test_gpu_sweep_files_validate(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(CLUSTER / name)]) == 0
    assert "OK" in capsys.readouterr().out


def test_gpu_sweeps_ask_for_what_the_cluster_has() -> None:
    shared = load_sweep(CLUSTER / "gpu_qwen.yaml").spec
    assert shared.model.name == "Qwen/Qwen2.5-0.5B-Instruct" and shared.lora.enabled
    assert shared.resources.gpus_per_trial == 0.25 and shared.resources.precision == "bf16"
    assert shared.storage.path.startswith("s3://")
    zero3 = load_sweep(CLUSTER / "gpu_qwen_zero3.yaml").spec
    assert (zero3.resources.workers, zero3.resources.deepspeed, zero3.resources.gpus_per_trial) == (2, "zero3", 1)
    assert "://" not in zero3.storage.path  # multi-worker trials need a shared filesystem
