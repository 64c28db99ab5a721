"""What the schemas cannot say about the container files: that they agree with each other
and with txhook's contract. Run by scripts/check-deploy.sh after hadolint and the schema
checks; prints one line per check and a closing "N passed, N failed" line.

    python tests/deploy/check_deploy.py [REPO_ROOT]
"""

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2])
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def read(rel):
    return (ROOT / rel).read_text()


def env_file(rel):
    """KEY=value lines as Docker reads an env file (no quotes, no inline comments)."""
    out = {}
    for n, line in enumerate(read(rel).splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f"{rel}:{n}: not KEY=value"
        assert not value.startswith(('"', "'")), f"{rel}:{n}: quoted value"
        assert " #" not in value, f"{rel}:{n}: inline comment would become part of the value"
        assert key not in out, f"{rel}:{n}: {key} twice"
        out[key] = value
    return out


def known_settings():
    """Every variable that src/config/ reads, plus the log filter."""
    names = set()
    for path in sorted((ROOT / "src/config").glob("*.rs")):
        names |= set(re.findall(r'"((?:TXHOOK_[A-Z0-9_]+)|DATABASE_URL)"', read(str(path.relative_to(ROOT)))))
    assert "TXHOOK_SHARED_KEY" in names, "could not read the settings of src/config/"
    return names | {"RUST_LOG"}


def compose():
    return yaml.safe_load(read("docker-compose.yml"))


def k8s():
    docs = {}
    for path in sorted((ROOT / "deploy/k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def one(docs, kind):
    found = [d for (k, _), d in docs.items() if k == kind]
    assert len(found) == 1, f"expected one {kind} in deploy/k8s, found {len(found)}"
    return found[0]


def seconds(s):
    m = re.fullmatch(r"(\d+)(s|m)", str(s))
    assert m, f"duration {s!r}"
    return int(m[1]) * (60 if m[2] == "m" else 1)


# --- Dockerfile -------------------------------------------------------------------------


@check
def dockerfile_builds_with_cargo_chef_locked_and_runs_as_numeric_user():
    text = read("Dockerfile")
    assert re.search(r"cargo chef cook --release --locked", text)
    assert re.search(r"cargo build --release --locked", text)
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(stages) >= 3, "multi-stage build"
    assert re.search(r"^ARG RUNTIME_IMAGE=debian:[0-9.]+-slim$", text, re.M), "pinned slim Debian"
    rust = re.search(r"^ARG RUST_IMAGE=rust:(\d+)\.(\d+)", text, re.M)
    assert rust, "pinned Rust builder image"
    need = re.search(r'rust-version\s*=\s*"(\d+)\.(\d+)"', read("Cargo.toml"))
    assert (int(rust[1]), int(rust[2])) >= (int(need[1]), int(need[2])), "builder below rust-version"
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert "/usr/local/bin/txhook" in text
    assert re.search(r"^EXPOSE 8080$", text, re.M)
    assert re.search(r'^HEALTHCHECK .*\n?.*CMD \["txhook", "healthcheck"', text, re.M)
    assert re.search(r'^ENTRYPOINT \["txhook"\]$', text, re.M)
    assert re.search(r'^CMD \["serve"\]$', text, re.M)
    assert re.search(r"^ENV TXHOOK_LISTEN=0\.0\.0\.0:8080$", text, re.M)
    assert "org.opencontainers.image.title" in text
    runtime = text[text.rindex("\nFROM ") :]
    assert re.search(r"apt-get install -y --no-install-recommends ca-certificates\s*\\?\n", runtime)
    assert "COPY . ." not in runtime and "config.toml" not in runtime.replace("./config.toml", "")


@check
def dockerignore_keeps_build_output_history_and_secrets_out():
    lines = {l.strip() for l in read(".dockerignore").splitlines()}
    for entry in ("target/", ".git", ".env", ".env.*", "secrets/", "*.pem", "*.key"):
        assert entry in lines, f".dockerignore lacks {entry}"
    for needed in ("migrations/", "src/", "crates/", "config.toml"):
        # migrations/ and config.toml are built into the binary (sqlx::migrate!, include_str!);
        # crates/ holds the workspace's other members, which the binary depends on.
        assert needed not in lines, f"the build needs {needed}"


# --- .env.example -----------------------------------------------------------------------


@check
def env_example_names_only_real_settings_and_the_required_ones():
    env = env_file(".env.example")
    unknown = set(env) - known_settings()
    assert not unknown, f".env.example sets variables txhook does not read: {sorted(unknown)}"
    for required in ("DATABASE_URL", "TXHOOK_SHARED_KEY", "TXHOOK_LISTEN", "TXHOOK_ADMIN_TOKEN"):
        assert env.get(required), f".env.example lacks {required}"
    assert env["TXHOOK_LISTEN"] == "0.0.0.0:8080"
    assert all(v for v in env.values()), "an empty value would override the default with nothing"


def refused_placeholder(value):
    """Whether `serve` refuses `value` as a placeholder (the marks of src/config/secrets.rs)."""
    text = read("src/config/secrets.rs")
    block = re.search(r"PLACEHOLDER_MARKS: \[&str; \d+\] =\s*\[(.*?)\];", text, re.S)
    assert block, "could not read PLACEHOLDER_MARKS in src/config/secrets.rs"
    marks = re.findall(r'"([^"]+)"', block[1])
    return any(m in value.lower() for m in marks)


@check
def env_example_secrets_are_placeholders_that_serve_refuses():
    env = env_file(".env.example")
    for key in ("TXHOOK_SHARED_KEY", "TXHOOK_ADMIN_TOKEN"):
        assert refused_placeholder(env[key]), f"{key}: serve would accept the example's value"
    assert (ROOT / "scripts/compose-env.sh").exists(), "README's compose steps need it"
    pw = re.match(r"postgres://[^:]+:([^@]+)@", env["DATABASE_URL"])
    assert pw and "dev" in pw[1], "DATABASE_URL password does not look like a placeholder"


# --- docker-compose.yml -----------------------------------------------------------------


@check
def compose_database_is_pinned_persistent_and_health_checked():
    c = compose()
    db = c["services"]["db"]
    assert re.fullmatch(r"postgres:\d+(-[a-z]+)?", db["image"]), f"pin a major: {db['image']}"
    assert any(str(v).startswith("pgdata:") for v in db["volumes"])
    assert "pgdata" in c["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    url = env_file(".env.example")["DATABASE_URL"]
    assert f":{db['environment']['POSTGRES_PASSWORD']}@db:5432/" in url, "DATABASE_URL != db service"


@check
def compose_txhook_waits_for_healthy_database_and_uses_env_example():
    s = compose()["services"]
    tx = s["txhook"]
    assert "profiles" not in tx
    assert tx["depends_on"]["db"]["condition"] == "service_healthy"
    assert tx["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert tx["env_file"][0] == {"path": ".env.example", "required": True}
    assert "127.0.0.1:8080:8080" in tx["ports"], "the dev stack listens on loopback only"
    assert tx["build"]["context"] == "."
    assert seconds(tx["stop_grace_period"]) >= 30, "SIGTERM drain needs 30 s"
    assert tx["read_only"] is True and tx["cap_drop"] == ["ALL"]
    assert "environment" not in tx, "plain `up` must not point at the demo-only mock"
    migrate = s["migrate"]
    assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"


@check
def compose_demo_profile_closes_the_loop_through_the_mock():
    s = compose()["services"]
    mock = s["mock"]
    assert mock["profiles"] == ["demo"]
    assert mock["command"][0] == "mock-provider"
    assert "--listen=0.0.0.0:9090" in mock["command"]
    realm = [a.split("=", 1)[1] for a in mock["command"] if a.startswith("--realm-key=")]
    assert "9090" in " ".join(mock["healthcheck"]["test"]), "the image's check probes :8080"
    demo = s["txhook-demo"]
    assert demo["profiles"] == ["demo"]
    env = demo["environment"]
    assert env["TXHOOK_PROVIDER_URL"] == "http://mock:9090"
    assert env["TXHOOK_PUBLIC_URL"] == "http://txhook:8080"
    assert env["TXHOOK_STREAM_URL"] == "ws://mock:9090/stream"
    assert env["TXHOOK_ALLOW_INSECURE_UPSTREAM"] == "true", "serve refuses ws:// and http:// to mock"
    assert "TXHOOK_ALLOW_INSECURE_UPSTREAM" not in env_file(".env.example"), "demo only"
    assert [env["TXHOOK_REALM_KEY"]] == realm
    assert demo["depends_on"]["mock"]["condition"] == "service_healthy"
    assert demo["depends_on"]["txhook"]["condition"] == "service_healthy"
    assert set(env) <= known_settings()
    for name, svc in s.items():
        if name != "db":
            assert svc["image"] == "txhook:local", name


@check
def compose_builds_the_image_once():
    s = compose()["services"]
    builders = sorted(name for name, svc in s.items() if "build" in svc)
    assert builders == ["txhook"], f"only txhook builds txhook:local, not {builders}"
    for name, svc in s.items():
        if svc.get("image") == "txhook:local":
            assert svc.get("pull_policy") == "never", f"{name} would try to pull txhook:local"


# --- deploy/k8s -------------------------------------------------------------------------


def container_hardened(spec, c):
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 10001
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"]
    assert c["envFrom"] == [{"secretRef": {"name": "txhook-secrets"}}]


@check
def k8s_deployment_probes_drains_and_runs_hardened():
    docs = k8s()
    d = one(docs, "Deployment")
    spec = d["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] >= 30
    (c,) = spec["containers"]
    assert c["args"] == ["serve"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["ports"][0]["containerPort"] == 8080
    container_hardened(spec, c)
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert set(env) <= known_settings()
    drain = int(env.get("TXHOOK_SHUTDOWN_TIMEOUT_SECS", 25))
    pre = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    assert pre + drain < spec["terminationGracePeriodSeconds"], "killed before the drain ends"
    assert d["spec"]["replicas"] >= 2


@check
def k8s_service_secret_and_migration_job_fit_the_deployment():
    docs = k8s()
    d = one(docs, "Deployment")
    labels = d["spec"]["template"]["metadata"]["labels"]
    svc = one(docs, "Service")
    assert all(labels.get(k) == v for k, v in svc["spec"]["selector"].items())
    assert svc["spec"]["ports"][0]["targetPort"] in ("http", 8080)
    secret = one(docs, "Secret")
    data = secret["stringData"]
    assert set(data) <= known_settings()
    assert {"DATABASE_URL", "TXHOOK_SHARED_KEY", "TXHOOK_ADMIN_TOKEN"} <= set(data)
    for k, v in data.items():
        assert v == "" or "CHANGE-ME" in v, f"Secret {k} must be a placeholder"
        if k in ("TXHOOK_SHARED_KEY", "TXHOOK_ADMIN_TOKEN", "TXHOOK_PREVIOUS_SHARED_KEYS") and v:
            assert refused_placeholder(v), f"Secret {k}: serve would accept the placeholder"
    job = one(docs, "Job")
    spec = job["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    assert c["args"] == ["migrate"]
    assert spec["restartPolicy"] == "Never"
    assert c["image"] == d["spec"]["template"]["spec"]["containers"][0]["image"]
    container_hardened(spec, c)


def main():
    passed = failed = 0
    for fn in CHECKS:
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported, then counted
            failed += 1
            print(f"FAIL {fn.__name__}: {type(e).__name__}: {e}")
        else:
            passed += 1
            print(f"ok   {fn.__name__}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
