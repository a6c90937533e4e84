# The bundled example app in Python: the same service as ../main.ts, and the same YAML byte for
# byte (a test compares them). `cdk8s synth` here writes dist/shop.k8s.yaml and dist/Dockerfile.
import os

import cdk8s_plus_28 as kplus
from cdk8s import App, Chart, Duration, Size
from cdk8s_python_service import (
    BackingService,
    BackingServiceSecretKey,
    Exposure,
    PythonDockerfile,
    PythonServer,
    PythonService,
    PythonServiceAutoscaling,
    PythonServiceBackup,
    PythonServiceHealthCheck,
    PythonServiceMigrations,
    PythonServiceMonitoring,
    PythonServiceResources,
    PythonServiceSecurity,
    PythonWorkerShutdown,
    QueueScaling,
    WorkerProcess,
)

app = App()
chart = Chart(app, "shop", namespace="shop")

# What the app talks to, declared once: every pod of the service (web, workers, cron job,
# migrations) gets the variables and the NetworkPolicy egress from these.
database = BackingService.endpoint(
    cidr="10.20.0.0/16", port=5432, env={"DATABASE_URL": BackingServiceSecretKey(secret_name="shop-db", key="url")},
)
broker = BackingService.redis(
    host="redis-master.redis.svc",
    namespace="redis",
    pod_labels={"app.kubernetes.io/name": "redis"},
    env_name="CELERY_BROKER_URL",
)

service = PythonService(
    chart,
    "python-app",
    image="registry.example.com/shop/python-app:1.4.2",
    # A private registry: the kubelet pulls with this docker-registry Secret (every pod of the app).
    image_pull_secrets=["registry-credentials"],
    server=PythonServer.gunicorn(app="app.wsgi:application"),
    port=8080,
    # The article scales from 3 to 5 replicas by hand; an autoscaler does it on CPU.
    autoscaling=PythonServiceAutoscaling(min_replicas=3, max_replicas=5, target_cpu_utilization=70),
    resources=PythonServiceResources(cpu=kplus.Cpu.millis(500), memory=Size.mebibytes(512)),
    env={"DJANGO_SETTINGS_MODULE": "app.settings"},
    health_check=PythonServiceHealthCheck(path="/healthz"),
    expose=Exposure.ingress(host="shop.example.com", tls_secret_name="shop-tls"),
    migrations=PythonServiceMigrations(command=["python", "manage.py", "migrate", "--noinput"]),
    # The article's ServiceMonitor (port http, /metrics, every 30s), plus alerts.
    monitoring=PythonServiceMonitoring(
        path="/metrics", interval=Duration.seconds(30), alerts=True, labels={"release": "kube-prometheus-stack"},
    ),
    # The article's made-up Backup kind, as the real thing: a Velero Schedule, daily at midnight.
    backup=PythonServiceBackup(schedule="0 0 * * *", retention=Duration.days(30)),
    # The article's made-up SecurityPolicy kind, as what clusters enforce: default-deny
    # NetworkPolicies with explicit allows and CEL admission rules (allowed images and volumes,
    # Pod Security "restricted"), checked against this very chart at synth time.
    security=PythonServiceSecurity(allowed_images=["registry.example.com/shop/"]),
    part_of="shop",
)
service.use(database)
service.use(broker)

# Beyond the article: a Celery worker scaled on its Redis queue by KEDA, beat (always one
# replica), and a nightly Django management command, from the same image and pod template.
service.add_worker(
    "worker",
    process=WorkerProcess.celery(app="app", queues=["default"]),
    queue_scaling=QueueScaling.redis_list_of(
        broker, list_name="default", target_length=20, min_replicas=1, max_replicas=10,
    ),
    shutdown=PythonWorkerShutdown(task_time_limit=Duration.minutes(5)),
)
service.add_worker("beat", process=WorkerProcess.celery_beat(app="app"))
service.add_cron_job(
    "clear-sessions",
    schedule="0 3 * * *",
    time_zone="Europe/Berlin",
    command=["python", "manage.py", "clearsessions"],
)

app.synth()

# The article's first step: the image, built by a Dockerfile that agrees with the Deployment.
# Django's static files are collected at build time: the pod's root filesystem is read-only.
dockerfile = PythonDockerfile.for_service(service,
    build_commands=[["python", "manage.py", "collectstatic", "--noinput"]],
    build_env={"DJANGO_SETTINGS_MODULE": "app.settings"},
)
with open(os.path.join(app.outdir, "Dockerfile"), "w", encoding="utf-8") as f:
    f.write(dockerfile.render())
with open(os.path.join(app.outdir, ".dockerignore"), "w", encoding="utf-8") as f:
    f.write(dockerfile.render_ignore())
