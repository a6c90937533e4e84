/**
 * Small real Python apps the runtime tests run under the rendered commands: a Django project
 * whose health view checks its database (a SQLite file the test can take away) and counts
 * requests with prometheus_client, and a FastAPI app.
 */

/** The Django project `shop`: ALLOWED_HOSTS as a user would set it after reading the README. */
export function djangoShop(allowedHosts: string[]): { [file: string]: string } {
  return {
    'shop/__init__.py': '',
    'shop/settings.py': `
import os
BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET_KEY = "test-only"
DEBUG = False
ALLOWED_HOSTS = ${JSON.stringify(allowedHosts)}
ROOT_URLCONF = "shop.urls"
INSTALLED_APPS = ["django.contrib.sessions", "django.contrib.staticfiles", "django_rq", "shop.orders"]
# django-rq's worker (manage.py rqworker) reads its queues here.
RQ_QUEUES = {"django": {"URL": os.environ.get("RQ_REDIS_URL", "redis://127.0.0.1:6379/0")}}
# collectstatic gathers them at build time (the image's root file system is read-only in the pod).
STATIC_URL = "static/"
STATICFILES_DIRS = [os.path.join(BASE_DIR, "shop", "static")]
STATIC_ROOT = os.path.join(BASE_DIR, "staticfiles")
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# Django's defaults: CommonMiddleware is what checks the Host header against ALLOWED_HOSTS.
# Then the request metrics, under the names the library's alerts read by default.
MIDDLEWARE = ["django.middleware.security.SecurityMiddleware", "django.middleware.common.CommonMiddleware", "shop.metrics.RequestMetrics"]
# The database lives on the pod's writable /tmp; the test removes the file to take it away.
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/tmp/shop.sqlite3"}}
`,
    'shop/wsgi.py': `
import os, sqlite3
from prometheus_client import Gauge
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
sqlite3.connect("/tmp/shop.sqlite3").close()
# One per live worker (each imports this module after the fork): a worker that died must
# leave the sum, which gunicorn's child_exit hook (mark_process_dead) does.
WORKERS = Gauge("shop_workers_up", "Live worker processes", multiprocess_mode="livesum")
WORKERS.set(1)
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()
`,
    'shop/metrics.py': `
import time
from prometheus_client import Counter, Histogram

REQUESTS = Counter("http_requests", "HTTP requests answered", ["method", "status"])
LATENCY = Histogram("http_request_duration_seconds", "Time to answer an HTTP request", ["method"])

class RequestMetrics:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        LATENCY.labels(request.method).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, str(response.status_code)).inc()
        return response
`,
    'manage.py': `
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
`,
    'shop/static/shop.css': 'body { font-family: sans-serif; }\n',
    // A job that needs Django set up (the app registry): plain \`rq worker\` raises AppRegistryNotReady.
    'shop/rq_tasks.py': `
def model_table():
    from shop.orders.models import Order
    return Order._meta.db_table
`,
    'shop/orders/__init__.py': '',
    'shop/orders/models.py': `
from django.db import models

class Order(models.Model):
    total = models.IntegerField()
`,
    'shop/orders/migrations/__init__.py': '',
    'shop/orders/migrations/0001_initial.py': `
from django.db import migrations, models

class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [migrations.CreateModel(name="Order", fields=[("id", models.AutoField(primary_key=True)), ("total", models.IntegerField())])]
`,
    'shop/orders/management/__init__.py': '',
    'shop/orders/management/commands/__init__.py': '',
    'shop/orders/management/commands/report.py': `
import os, tempfile
from django.core.management.base import BaseCommand

class Command(BaseCommand):
    help = "Writes the nightly report to the scratch directory."

    def handle(self, *args, **options):
        with tempfile.NamedTemporaryFile("w", dir=os.environ.get("TMPDIR", "/tmp"), prefix="report-", delete=False) as f:
            f.write("orders: 0\\n")
        self.stdout.write(f"report written to {f.name} as uid {os.getuid()}")
`,
    'shop/urls.py': `
from django.urls import path
from shop import views
urlpatterns = [path("healthz", views.healthz), path("work", views.work), path("slow", views.slow), path("burn", views.burn), path("pid", views.pid)]
`,
    'shop/views.py': `
import os, socket, sqlite3, time
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import Counter

REQUESTS = Counter("shop_work_requests", "Requests to /work")

def healthz(request):
    # Readiness: the app can serve only with its database (here: the file must exist and answer).
    path = settings.DATABASES["default"]["NAME"]
    if not os.path.exists(path):
        return HttpResponse("database gone", status=503)
    sqlite3.connect(path).execute("select 1")
    return HttpResponse("ok")

def work(request):
    REQUESTS.inc()
    return HttpResponse("done")

def slow(request):
    time.sleep(float(request.GET.get("s", "3")))
    return HttpResponse("finished")

def burn(request):
    # CPU work (what an autoscaler's CPU target measures): busy for ms milliseconds of CPU time.
    until = time.process_time() + float(request.GET.get("ms", "50")) / 1000
    while time.process_time() < until:
        pass
    return JsonResponse({"pod": socket.gethostname()})

def pid(request):
    return JsonResponse({"pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid(), "pod": socket.gethostname()})
`,
  };
}

/** A FastAPI app `api.main:app` with a health view that checks a dependency file. */
export function fastApi(): { [file: string]: string } {
  return {
    'api/__init__.py': '',
    'api/main.py': `
import asyncio, os
from fastapi import FastAPI, Response
app = FastAPI()

@app.get("/healthz")
def healthz(response: Response):
    if not os.path.exists("/tmp/dependency-up"):
        response.status_code = 503
        return {"status": "dependency down"}
    return {"status": "ok"}

@app.get("/slow")
async def slow(s: float = 3):
    await asyncio.sleep(s)
    return {"status": "finished"}

@app.on_event("startup")
def startup():
    open("/tmp/dependency-up", "w").close()
`,
  };
}

/** A Celery app `shop` (found as `shop.celery` by `celery -A shop`) with a slow task and a beat schedule. */
export function celeryShop(): { [file: string]: string } {
  return {
    'shop/__init__.py': '',
    'shop/celery.py': `
import os, time
from celery import Celery
app = Celery("shop", broker=os.environ["CELERY_BROKER_URL"], backend=os.environ["CELERY_BROKER_URL"])
app.conf.task_track_started = True
app.conf.beat_schedule = {"tick": {"task": "shop.tick", "schedule": 1.0}}

@app.task(name="shop.slow")
def slow(seconds):
    time.sleep(seconds)
    return "finished"

@app.task(name="shop.tick")
def tick():
    return "tick"
`,
    // RQ imports jobs by dotted path from the worker's import path (its --path, "." by default).
    'shop/rq_tasks.py': `
import time

def slow(seconds):
    time.sleep(seconds)
    return "finished"
`,
  };
}
