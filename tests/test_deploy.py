"""deploy/ stays consistent with the CLI and the settings (no Docker engine here to build it)."""

from __future__ import annotations

import re
import time
import tomllib

import yaml
from typer.main import get_command

from api.cli import app
from tenants.settings import Settings
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def _subcommands() -> set[str]:
    return set(get_command(app).commands)  # type: ignore[attr-defined]


def test_every_deployed_process_is_a_civicgrid_command():
    used = set()
    for path in [DEPLOY / "compose.yaml", *(DEPLOY / "k8s").glob("*.yaml")]:
        for match in re.finditer(r'(?:command|args): \["(?:civicgrid", ")?([a-z-]+)"', path.read_text()):
            if match.group(1) != "redis-server":
                used.add(match.group(1))
    assert used == {"migrate", "api", "worker"}
    assert used <= _subcommands()
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["civicgrid"]' in dockerfile


def test_every_documented_variable_is_a_setting():
    fields = {f"CIVICGRID_{name.upper()}" for name in Settings.model_fields}
    fields |= {"DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL"}
    example = set(re.findall(r"^#? ?([A-Z_]+)=", (DEPLOY / "env.example").read_text(), re.M))
    readme = set(re.findall(r"`((?:CIVICGRID|DATABASE|REDIS)_[A-Z_]+)`", (ROOT / "README.md").read_text()))
    compose_only = {"OWNER_DB_PASSWORD", "APP_DB_PASSWORD"}
    assert example - compose_only <= fields, example - compose_only - fields
    assert readme <= fields, readme - fields
    assert {"DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "CIVICGRID_JWT_SECRET"} <= readme


# The Kubernetes manifests (issue 16, "A deploy that starts"). `make lint` validates them against the Kubernetes
# schemas (kubernetes-validate, strict) and the Dockerfile with hadolint; these tests hold what a schema cannot.

UID = 10001


def _manifests() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _of(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in _manifests() if d["kind"] == kind}


def _workloads() -> dict[str, dict]:
    """Every Deployment and Job, by name."""
    return {**_of("Deployment"), **_of("Job")}


def _env(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def _secret_keys(container: dict) -> set[str]:
    """The secret keys a container sees, through envFrom (whole secrets) or env (single keys)."""
    secrets = {name: set(d["stringData"]) for name, d in _of("Secret").items()}
    keys = set()
    for source in container.get("envFrom", []):
        keys |= secrets[source["secretRef"]["name"]]
    for e in container.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["key"] in secrets[ref["name"]], ref
            keys.add(e["name"])
    return keys


def test_the_image_runs_as_the_numeric_user_the_manifests_name_and_installs_the_lock():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f"\nUSER {UID}:{UID}\n" in dockerfile and f"--uid {UID} --gid {UID}" in dockerfile
    assert "--require-hashes --no-deps -r requirements.lock" in dockerfile
    assert "lockcheck.py" in dockerfile  # a lock missing a dependency fails the build


def test_every_pod_is_restricted_limited_and_runs_a_released_image():
    workloads = _workloads()
    assert {"civicgrid-api", "civicgrid-worker"} <= set(workloads)
    assert any(n.startswith("civicgrid-migrate") for n in workloads)
    for name, w in workloads.items():
        pod = w["spec"]["template"]["spec"]
        ctx = pod["securityContext"]
        assert (ctx["runAsUser"], ctx["runAsGroup"], ctx["fsGroup"], ctx["runAsNonRoot"]) == (UID, UID, UID, True), name
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        tmp = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"] == {"type": "RuntimeDefault"}
            # The read-only root leaves /tmp writable, from an emptyDir.
            assert {m["name"] for m in c["volumeMounts"] if m["mountPath"] == "/tmp"} <= tmp, name
            assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"]), name
            for need in ("requests", "limits"):
                assert set(c["resources"][need]) == {"cpu", "memory"}, (name, need)
            image = c["image"]
            assert re.fullmatch(r"[a-z0-9./-]+/civicgrid(:[0-9][\w.-]*|@sha256:[0-9a-f.]+)", image), image
            assert not image.endswith(":latest")
    images = {c["image"] for w in workloads.values() for c in w["spec"]["template"]["spec"]["containers"]}
    assert len(images) == 1  # one release everywhere


def test_only_the_migrate_job_sees_the_owner_url():
    seen = {name: set().union(*(_secret_keys(c) for c in w["spec"]["template"]["spec"]["containers"]))
            for name, w in _workloads().items()}
    for name, keys in seen.items():
        if name.startswith("civicgrid-migrate"):
            assert {"DATABASE_URL", "DATABASE_OWNER_URL"} <= keys
        else:
            assert "DATABASE_URL" in keys and "DATABASE_OWNER_URL" not in keys, name
    # No other secret carries it under another name.
    holders = {n for n, s in _of("Secret").items() if any("OWNER" in k for k in s["stringData"])}
    assert holders == {"civicgrid-owner"}


def test_the_migrate_job_can_be_applied_again_for_each_release():
    [(name, job)] = [(n, w) for n, w in _workloads().items() if w["kind"] == "Job"]
    tag = job["spec"]["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[1]
    assert name == "civicgrid-migrate-" + tag.replace(".", "-")  # a new release is a new Job
    assert job["spec"]["ttlSecondsAfterFinished"] > 0 and job["spec"]["podReplacementPolicy"] == "Failed"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]


def test_pods_stop_within_their_grace_period_and_are_kept_through_drains_and_scaled():
    for name, d in _of("Deployment").items():
        pod = d["spec"]["template"]["spec"]
        [c] = pod["containers"]
        deadline = int(_env(c)["CIVICGRID_SHUTDOWN_SECONDS"])
        pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        assert pod["terminationGracePeriodSeconds"] >= pre_stop + deadline + 5, name
        labels = d["spec"]["template"]["metadata"]["labels"]
        pdbs = [p for p in _of("PodDisruptionBudget").values()
                if p["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(pdbs) == 1 and pdbs[0]["spec"]["minAvailable"] == 1, name
    [hpa] = _of("HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "civicgrid-api"}
    assert hpa["spec"]["minReplicas"] >= 2
    assert "replicas" not in _of("Deployment")["civicgrid-api"]["spec"]  # the HPA owns the count


def test_prometheus_scrapes_metrics_on_each_process_port():
    deployments = _of("Deployment")
    for name, port in (("civicgrid-api", 8000), ("civicgrid-worker", 9102)):
        meta = deployments[name]["spec"]["template"]["metadata"]["annotations"]
        scrape = {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics"}
        assert meta == scrape
        [c] = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert port in {p["containerPort"] for p in c["ports"]}
    [worker] = deployments["civicgrid-worker"]["spec"]["template"]["spec"]["containers"]
    assert _env(worker)["CIVICGRID_WORKER_METRICS_PORT"] == "9102"


def test_the_worker_probe_is_its_own_heartbeat():
    [c] = _of("Deployment")["civicgrid-worker"]["spec"]["template"]["spec"]["containers"]
    for probe in ("startupProbe", "livenessProbe"):
        assert c[probe]["exec"]["command"] == ["civicgrid", "worker", "--alive"]
        assert c[probe]["timeoutSeconds"] >= 5  # the command starts a Python process
    assert c["env"][[e["name"] for e in c["env"]].index("CIVICGRID_WORKER_ID")]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.name"}
    }


async def test_a_worker_whose_loop_stops_beating_fails_its_liveness_probe(monkeypatch):
    from typer.testing import CliRunner

    from jobs.liveness import heartbeat_file
    from jobs.worker import create_worker

    monkeypatch.setenv("CIVICGRID_WORKER_ID", "probe-test")
    monkeypatch.setenv("CIVICGRID_WORKER_STALE_SECONDS", "30")
    beat = heartbeat_file()

    def probe() -> int:
        return CliRunner().invoke(app, ["worker", "--alive"]).exit_code

    worker = create_worker(burst=True, poll_delay=0.05, handle_signals=False, on_startup=None, on_shutdown=None,
                           cron_jobs=None)
    assert not beat.exists() and probe() == 1  # a new worker: nothing counts until its loop turns
    try:
        await worker.main()  # an empty queue: one poll, and a beat
    finally:
        await worker.close()
    assert probe() == 0
    beat.write_text(repr(time.monotonic() - 31))  # the loop has not turned for 31 s
    assert probe() == 1
    create_worker(burst=True, handle_signals=False)  # its successor in the same pod forgets the old beat
    assert not beat.exists()


def test_the_lock_files_pin_every_dependency_with_hashes_at_the_same_versions():
    from packaging.requirements import Requirement

    def pins(name: str) -> set[tuple[str, str]]:
        """(name, version) of every pin; a universal lock may pin one package per Python version (markers)."""
        text = (ROOT / name).read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text)[1:]
        assert entries and all("--hash=sha256:" in e for e in entries), name
        found = {tuple(re.match(r"([A-Za-z0-9_.-]+)==([^\s;]+)", e).groups()) for e in entries}  # type: ignore[union-attr]
        return {(re.sub(r"[-_.]+", "-", k).lower(), v) for k, v in found}

    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert runtime <= dev
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [(r, runtime) for r in project["dependencies"]]
    wanted += [(r, dev) for extra in project["optional-dependencies"].values() for r in extra]
    for line, lock in wanted:
        req = Requirement(line)
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        if name == "civicgrid":
            continue
        versions = {v for n, v in lock if n == name}
        assert versions, f"{req.name} is not locked: run `make lock`"
        assert all(req.specifier.contains(v, prereleases=True) for v in versions), f"{req} is locked at {versions}"


def test_make_and_ci_install_the_lock_and_lint_the_deploy():
    make = (ROOT / "Makefile").read_text()
    stamp = make[make.index("$(STAMP):") : make.index("## lock:")]
    assert "--require-hashes --no-deps -r $(DEV_LOCK)" in stamp and "lockcheck.py $(EXTRAS)" in stamp
    lint = make[make.index("\nlint:") : make.index("## deploy-check:")]
    assert "deploy-check" in lint
    check = make[make.index("\ndeploy-check:") :].split("\n\n")[0]
    assert "kubernetes-validate --strict" in check and "-k $(K8S_VERSION)" in check
    assert "hadolint deploy/Dockerfile" in check
    assert "make lint" in (ROOT / ".ci" / "run").read_text()


def test_compose_keeps_the_owner_password_from_the_api_and_the_worker():
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    for name in ("api", "worker"):
        env = services[name]["environment"]
        assert "DATABASE_OWNER_URL" not in env and env["OWNER_DB_PASSWORD"] == "", name
        assert services[name]["read_only"] is True and services[name]["tmpfs"] == ["/tmp"]
    assert "DATABASE_OWNER_URL" in services["migrate"]["environment"]
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "civicgrid", "worker", "--alive"]
