"""docker-compose.yaml, checked without Docker: the scale-out setup must agree with the code it runs.

No Docker engine runs here, so the file is read with PyYAML (anchors and ``<<`` merges resolved) and
compose's ``${VAR:-default}`` interpolation is applied with the defaults, as ``docker compose config``
would. Pool names, connection ids and the sandbox's flags are read from the repository, not repeated here.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yaml"
AIRFLOW_SERVICES = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
                    "airflow-triggerer", "airflow-init"]
SERVICES = ["postgres", "redis", "codat-sandbox", "warehouse", *AIRFLOW_SERVICES]
# What a user puts in .env for the required variables; everything else takes its default.
USER_ENV = {"AIRFLOW_JWT_SECRET": "jwt-secret-from-dot-env"}
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value, env: dict[str, str] = USER_ENV):
    """Compose's variable substitution on every string in a loaded compose document."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        if env.get(name):
            return env[name]
        if op and op.endswith("?"):
            raise KeyError(f"compose would refuse to start without {name}: {arg}")
        return arg if op else ""

    return _VARIABLE.sub(substitute, value)


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(raw) -> dict:
    return interpolate(raw["services"])


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _binds(service: dict) -> list[dict]:
    """Every volume of a service in long form: type, source, target, create_host_path."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
            kind = "bind" if source.startswith((".", "/")) else "volume"
            mounts.append({"type": kind, "source": source, "target": target, "create_host_path": False})
        else:
            mounts.append({"type": volume["type"], "source": volume["source"], "target": volume["target"],
                           "create_host_path": bool((volume.get("bind") or {}).get("create_host_path"))})
    return mounts


def _host_dir(service: dict, container_path: str) -> Path | None:
    """The repository directory a container path comes from, through the service's bind mounts."""
    for mount in _binds(service):
        if mount["type"] == "bind" and (container_path + "/").startswith(mount["target"].rstrip("/") + "/"):
            rest = container_path[len(mount["target"].rstrip("/")):].lstrip("/")
            return (REPO / mount["source"]).resolve() / rest
    return None


def _string_constant(path: Path, name: str) -> str:
    """The value of ``name = "…"`` (module or class level) in a source file."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not assigned in {path}")


def _command(service: dict) -> list[str]:
    command = service["command"]
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def test_the_file_is_valid_yaml_with_every_service(raw, services):
    assert isinstance(raw, dict)
    assert set(SERVICES) <= set(services)
    for name in SERVICES:
        assert services[name].get("image"), f"{name} has no image"
        assert services[name].get("command"), f"{name} has no command"


def test_the_jwt_secret_must_be_given_rather_than_defaulted(raw):
    with pytest.raises(KeyError, match="AIRFLOW_JWT_SECRET"):
        interpolate(raw["services"], env={})


def test_the_airflow_image_is_3_3_2_on_python_3_11_with_the_project_pins(services):
    for name in [*AIRFLOW_SERVICES, "codat-sandbox"]:
        build = services[name]["build"]
        dockerfile = build["dockerfile_inline"]
        assert "FROM apache/airflow:3.3.2-python3.11" in dockerfile, name
        assert "requirements.txt" in dockerfile and (REPO / build["context"] / "requirements.txt").exists()
    # The pins installed in the image carry the same Airflow as the image itself.
    assert "apache-airflow==3.3.2" in (REPO / "requirements.txt").read_text().splitlines()


def test_every_airflow_service_shares_one_celery_and_execution_api_setup(services):
    envs = {name: _env(services[name]) for name in AIRFLOW_SERVICES}
    shared = ["AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND",
              "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__API_AUTH__JWT_SECRET",
              "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW_CONN_CODAT_DEFAULT",
              "AIRFLOW_CONN_WAREHOUSE_DEFAULT", "PYTHONPATH", "RS_REPORT_DIR"]
    for key in shared:
        values = {name: env.get(key) for name, env in envs.items()}
        assert len(set(values.values())) == 1 and None not in values.values(), f"{key} differs: {values}"
    env = envs["airflow-scheduler"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://") and "@redis:6379" in env[
        "AIRFLOW__CELERY__BROKER_URL"]
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
    assert "@postgres/" in env["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == USER_ENV["AIRFLOW_JWT_SECRET"]
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    # The Execution API URL names the API server service on the port it publishes.
    assert any(port.endswith(":8080") for port in services["airflow-apiserver"]["ports"])
    assert _command(services["airflow-apiserver"]) == ["api-server"]


def test_airflow_services_run_the_right_airflow_commands(services):
    assert _command(services["airflow-scheduler"]) == ["scheduler"]
    assert _command(services["airflow-dag-processor"]) == ["dag-processor"]
    assert _command(services["airflow-worker"]) == ["celery", "worker"]
    assert _command(services["airflow-triggerer"]) == ["triggerer"]


def test_bind_mounts_come_from_directories_of_the_repository(raw, services):
    ignored = (REPO / ".gitignore").read_text().split()
    for name, service in services.items():
        for mount in _binds(service):
            if mount["type"] != "bind":
                assert mount["source"] in raw["volumes"], f"{name}: volume {mount['source']} is not declared"
                continue
            source = (REPO / mount["source"]).resolve()
            assert source.is_relative_to(REPO), f"{name} mounts {source}, outside the checkout"
            if mount["create_host_path"]:
                # Output directories (reports) need not exist in a fresh checkout, but stay out of git.
                assert f"{source.relative_to(REPO)}/" in ignored, f"{name}: {source} should be gitignored"
            else:
                assert source.is_dir(), f"{name} mounts {mount['source']}, which is not a repo directory"


def test_dags_plugins_include_and_reports_are_where_airflow_and_the_pipeline_look(services):
    for name in AIRFLOW_SERVICES:
        service, env = services[name], _env(services[name])
        dags = env.get("AIRFLOW__CORE__DAGS_FOLDER", "/opt/airflow/dags")
        plugins = env.get("AIRFLOW__CORE__PLUGINS_FOLDER", "/opt/airflow/plugins")
        assert _host_dir(service, dags) == REPO / "dags", name
        assert _host_dir(service, plugins) == REPO / "plugins", name
        assert _host_dir(service, env["RS_REPORT_DIR"]) == REPO / "reports", name


def test_pythonpath_makes_the_pipeline_and_the_hooks_importable(services):
    for name in [*AIRFLOW_SERVICES, "codat-sandbox"]:
        service = services[name]
        importable = set()
        for entry in _env(service)["PYTHONPATH"].split(":"):
            host = _host_dir(service, entry)
            if host is not None and host.is_dir():
                importable |= {p.parent.name for p in host.glob("*/__init__.py")}
        wanted = {"codat_sandbox"} if name == "codat-sandbox" else {
            "receivables", "sample_data", "receivables_codat", "receivables_airflow"}
        assert wanted <= importable, f"{name} cannot import {sorted(wanted - importable)}"


def test_the_init_service_creates_the_pool_the_dags_use(services):
    pool = _string_constant(REPO / "plugins" / "receivables_airflow" / "tasks.py", "API_POOL")
    make_pool = re.search(r"airflow pools set (\S+) (\d+)", (REPO / "Makefile").read_text())
    assert make_pool and make_pool.group(1) == pool
    script = " ".join(_command(services["airflow-init"]))
    compose_pool = re.search(r"airflow pools set (\S+) (\d+)", script)
    assert compose_pool, "airflow-init does not create a pool"
    assert compose_pool.groups() == make_pool.groups()  # same name, same slots as on one machine


def test_the_connections_match_the_hooks_and_point_at_the_sandbox_and_warehouse(services):
    env = _env(services["airflow-worker"])
    codat_id = _string_constant(REPO / "plugins" / "receivables_codat" / "hooks.py", "default_conn_name")
    warehouse_id = _string_constant(REPO / "plugins" / "receivables_airflow" / "warehouse_hook.py",
                                    "default_conn_name")
    codat = json.loads(env[f"AIRFLOW_CONN_{codat_id.upper()}"])
    warehouse = json.loads(env[f"AIRFLOW_CONN_{warehouse_id.upper()}"])

    sandbox = services["codat-sandbox"]
    args = _command(sandbox)
    port = args[args.index("--port") + 1]
    assert codat["conn_type"] == "http" and codat["host"] == f"http://codat-sandbox:{port}"
    assert codat["password"] == _env(sandbox)["CODAT_SANDBOX_API_KEY"]  # the sandbox's fixed key

    db = _env(services["warehouse"])
    assert (warehouse["conn_type"], warehouse["host"], warehouse["port"]) == ("postgres", "warehouse", 5432)
    assert (warehouse["login"], warehouse["password"], warehouse["schema"]) == (
        db["POSTGRES_USER"], db["POSTGRES_PASSWORD"], db["POSTGRES_DB"])

    from receivables.warehouse.engine import WarehouseSettings

    settings = WarehouseSettings.from_connection(**{k: v for k, v in warehouse.items() if k != "extra"})
    assert settings.dialect == "postgresql" and settings.database == "warehouse"


def test_the_sandbox_command_is_a_valid_sandbox_invocation(services):
    args = _command(services["codat-sandbox"])
    assert args[:4] == ["python", "-m", "codat_sandbox", "serve"]
    help_text = subprocess.run(
        [sys.executable, "-m", "codat_sandbox", "serve", "--help"], capture_output=True, text=True,
        check=True, env={"PYTHONPATH": str(REPO / "include"), "PATH": "/usr/bin:/bin"}).stdout
    known = set(re.findall(r"--[a-z][a-z-]*", help_text))
    used = [arg for arg in args[4:] if arg.startswith("--")]
    assert set(used) <= known, f"unknown sandbox flags: {sorted(set(used) - known)}"
    assert used == ["--host", "--port", "--state", "--seed-demo"]
    assert args[args.index("--host") + 1] == "0.0.0.0"  # reachable from the other containers
    assert int(args[args.index("--port") + 1]) == 8000 and int(args[args.index("--seed-demo") + 1]) == 3
    state = args[args.index("--state") + 1]
    assert state == "/state/sandbox.sqlite"
    # The state file lives on a named volume so pushed records survive a restart of the container.
    mounts = {m["target"]: m for m in _binds(services["codat-sandbox"])}
    assert mounts["/state"]["type"] == "volume"
    # The key comes from the environment, which the help says the sandbox reads.
    assert "CODAT_SANDBOX_API_KEY" in help_text and _env(services["codat-sandbox"])["CODAT_SANDBOX_API_KEY"]


def test_healthchecks_and_start_order(services):
    for name in SERVICES:
        if name != "airflow-init":
            assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if rule["condition"] == "service_healthy":
                assert services[dependency].get("healthcheck"), f"{name} waits on {dependency}'s health"
    for name in AIRFLOW_SERVICES:
        needs = services[name]["depends_on"]
        assert needs["postgres"]["condition"] == needs["redis"]["condition"] == "service_healthy"
        if name != "airflow-init":
            assert needs["airflow-init"]["condition"] == "service_completed_successfully", name
    worker = services["airflow-worker"]["depends_on"]
    for dependency in ("airflow-apiserver", "codat-sandbox", "warehouse"):
        assert worker[dependency]["condition"] == "service_healthy"
