"""Settings shared by every environment, read from the environment.

Local defaults match a developer machine (PostgreSQL, Redis, RabbitMQ on
127.0.0.1 and the project's own Mosquitto on port 18830); production refuses
those defaults where they would be unsafe (see ``production.py``).
"""

import logging
import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
SEED_DATA_DIR = Path(environ.Env().str("TIER0_SEED_DATA", str(BASE_DIR.parent / "shared" / "seed-data")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

# Marks the built-in development key, so production can refuse to run with it.
INSECURE_DEFAULT_SECRET_KEY = "django-insecure-local-development-key-not-for-production"  # noqa: S105 - the known development default that production settings refuse

# --- Core -----------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
SECRET_KEY = env.str("DJANGO_SECRET_KEY", INSECURE_DEFAULT_SECRET_KEY)
# Off unless a developer turns it on (DJANGO_DEBUG=1): with it on, a 404 lists every URL.
DEBUG = env.bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "knox",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "tier0site",
    "telemetry",
    "sessions_app",
    "logs",
    "rag",
    "imaging",
    "failover",
    "dashboard",
    "accounts",
    "alarms",
    "devtools",
]

# Under ASGI every switch between async and sync middleware is a thread
# hand-off, so the async-capable Django middleware comes first and the sync-only
# ones (Prometheus's, WhiteNoise) sit together next to the sync DRF views: one
# hand-off per request instead of six (measured 4x the API throughput).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tier0site.api.RejectNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Sync here on purpose: axes' async path drops the lockout response's arguments.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tier0site.urls"
WSGI_APPLICATION = "tier0site.wsgi.application"
ASGI_APPLICATION = "tier0site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/tier0")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", 5)
# The ASGI web process runs each request's sync code in a thread of its own, so
# persistent per-thread connections pile up ("too many clients"); it uses
# psycopg's pool instead (DB_POOL_MAX_SIZE, set by the Procfile and compose file).
# https://docs.djangoproject.com/en/5.2/ref/databases/#connection-pool
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", 0)
if DB_POOL_MAX_SIZE:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"]["pool"] = {"min_size": 2, "max_size": DB_POOL_MAX_SIZE, "timeout": 10}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache and channel layer -----------------------------------------
# https://github.com/jazzband/django-redis#configure-as-cache-backend
REDIS_URL = env.str("REDIS_URL", "redis://127.0.0.1:6379/0")  # redis://:PASSWORD@host:6379/0 with requirepass
# With Redis Sentinel (REDIS_SENTINELS) the data nodes' requirepass; REDIS_URL carries it otherwise.
REDIS_PASSWORD = env.str("REDIS_PASSWORD", "")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", "tier0"),
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            # JSON, not pickle: write access to Redis must not mean code execution here.
            "SERIALIZER": "tier0site.cache.StrictJSONSerializer",
            "SOCKET_CONNECT_TIMEOUT": 2,
            "SOCKET_TIMEOUT": 2,
        },
    }
}
DEVICE_CACHE_TTL_S = env.int("DEVICE_CACHE_TTL_S", 60)

# https://channels.readthedocs.io/en/stable/topics/channel_layers.html
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 reads with a 5 s socket timeout by default, the same 5 s that
        # channels-redis blocks in BZPOPMIN: every idle websocket would die after
        # about 6 s ("Timeout reading from ..."). Give reads room beyond the block.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
            "prefix": env.str("CHANNEL_LAYER_PREFIX", "tier0:asgi"),
        },
    }
}

# --- Brokers ----------------------------------------------------------------
# The project runs its own Mosquitto (deploy/mosquitto/mosquitto.conf) on a port
# of its own: the stock configuration drops QoS 1 messages under load.
MQTT_HOST = env.str("MQTT_HOST", "127.0.0.1")
MQTT_PORT = env.int("MQTT_PORT", 18830)
MQTT_USERNAME = env.str("MQTT_USERNAME", "")
MQTT_PASSWORD = env.str("MQTT_PASSWORD", "")
# Password file + ACL for the project's broker (manage.py mqtt_credentials); empty:
# anonymous, which the broker allows on loopback only.
MQTT_AUTH_DIR = env.str("MQTT_AUTH_DIR", "")
MQTT_TOPIC_PREFIX = env.str("MQTT_TOPIC_PREFIX", "og/field")
MQTT_SHARED_GROUP = env.str("MQTT_SHARED_GROUP", "tier0")
# MQTT brokers devices and the simulator may use, host:port,host:port (empty: MQTT_HOST:MQTT_PORT);
# a publisher moves to the next one when its broker dies.
MQTT_BROKERS = env.list("MQTT_BROKERS", default=[])

# Telemetry transport of run_mqtt_consumer: "mosquitto" (the single-node default, an MQTT
# subscription) or "rabbitmq" (devices publish MQTT to any node of a RabbitMQ cluster with the
# rabbitmq_mqtt plugin; consumers read a replicated quorum queue over AMQP: telemetry/rabbitmq.py).
TELEMETRY_TRANSPORT = env.str("TELEMETRY_TRANSPORT", "mosquitto")
# AMQP URLs (or host:port, credentials from RABBITMQ_URL) of the cluster's nodes, for the consumers
# of the rabbitmq transport; empty: RABBITMQ_URL. A consumer moves to the next live one.
TELEMETRY_BROKER_URLS = env.list("TELEMETRY_BROKER_URLS", default=[])
TELEMETRY_QUEUE = env.str("TELEMETRY_QUEUE", "telemetry")
TELEMETRY_PREFETCH = env.int("TELEMETRY_PREFETCH", 10000)  # 2 batches: the next one arrives during a commit

RABBITMQ_URL = env.str("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
MONGODB_URI = env.str("MONGODB_URI", "")
COHERE_API_KEY = env.str("COHERE_API_KEY", "")
COHERE_BASE_URL = env.str("COHERE_BASE_URL", "")

# --- Telemetry ----------------------------------------------------------------
TELEMETRY_RETENTION_DAYS = env.int("TELEMETRY_RETENTION_DAYS", 30)
TELEMETRY_PARTITIONS_AHEAD_DAYS = env.int("TELEMETRY_PARTITIONS_AHEAD_DAYS", 7)
TELEMETRY_BATCH_SIZE = env.int("TELEMETRY_BATCH_SIZE", 5000)
# How long a partial batch may wait for more messages; 0: group commit (stored as
# soon as the previous commit is done), which gives the lowest latency at any rate.
TELEMETRY_FLUSH_INTERVAL_S = env.float("TELEMETRY_FLUSH_INTERVAL_S", 0.0)
TELEMETRY_LIVE_INTERVAL_S = env.float("TELEMETRY_LIVE_INTERVAL_S", 1.0)
# A listed metric is shown as stopped when its type reported this long after its last value.
TELEMETRY_DRIFT_STALE_S = env.int("TELEMETRY_DRIFT_STALE_S", 300)
# Liveness: a device is online while its last message arrived within
# DEVICE_OFFLINE_AFTER_S (default three expected reporting intervals; the default
# simulator visits each of its 100,000 devices about every 555 s).
DEVICE_REPORT_INTERVAL_S = env.float("DEVICE_REPORT_INTERVAL_S", 600.0)
DEVICE_OFFLINE_AFTER_S = env.float("DEVICE_OFFLINE_AFTER_S", 3 * DEVICE_REPORT_INTERVAL_S)
# How often monitor_devices looks for devices that fell silent and rolls readings up.
DEVICE_MONITOR_INTERVAL_S = env.float("DEVICE_MONITOR_INTERVAL_S", 5.0)

# Alarms (README "Alarms"): rules are evaluated on each stored telemetry batch; the
# notifier (run_notifier) sends the outbox with retries and backoff.
ALARMS_ENABLED = env.bool("ALARMS_ENABLED", True)
NOTIFIER_INTERVAL_S = env.float("NOTIFIER_INTERVAL_S", 1.0)
NOTIFIER_MAX_ATTEMPTS = env.int("NOTIFIER_MAX_ATTEMPTS", 10)
NOTIFIER_BACKOFF_FIRST_S = env.float("NOTIFIER_BACKOFF_FIRST_S", 1.0)
NOTIFIER_BACKOFF_CAP_S = env.float("NOTIFIER_BACKOFF_CAP_S", 300.0)
NOTIFIER_TIMEOUT_S = env.float("NOTIFIER_TIMEOUT_S", 5.0)
# Every ROLLUP_INTERVAL_S the monitor rolls what arrived since its last round into
# per-minute and hourly rollups; after a restart it starts ROLLUP_LOOKBACK_S back.
ROLLUP_LOOKBACK_S = env.float("ROLLUP_LOOKBACK_S", 180.0)
ROLLUP_INTERVAL_S = env.float("ROLLUP_INTERVAL_S", 30.0)
# Larger messages are dead-lettered unread (MQTT and AMQP bodies alike); Mosquitto's
# message_size_limit matches it so the broker refuses them first.
TELEMETRY_MAX_PAYLOAD_BYTES = env.int("TELEMETRY_MAX_PAYLOAD_BYTES", 64 * 1024)

# --- Workers (tier0site.workers) ------------------------------------------------
WORKER_HEARTBEAT_S = env.float("WORKER_HEARTBEAT_S", 5.0)  # beats expire after three intervals
WORKER_LOG_EVERY_S = env.float("WORKER_LOG_EVERY_S", 10.0)  # one throughput line per worker; 0: off
# A message delivered more often than this (the consumer died each time) is dead-lettered.
WORKER_MAX_DELIVERIES = env.int("WORKER_MAX_DELIVERIES", 3)
# Fault injection for tests only: a worker aborts (like a crash) on a message containing this text.
WORKER_CRASH_ON_MARKER = env.str("WORKER_CRASH_ON_MARKER", "")
# Where the marker kills the worker: "parse" (before the store) or "after_ack" (committed and acknowledged).
WORKER_CRASH_AT = env.str("WORKER_CRASH_AT", "parse")

# --- Deployment -------------------------------------------------------------
DEPLOYMENT_VERSION = env.str("DEPLOYMENT_VERSION", "v1.0.0057")
DEPLOYMENT_REGION = env.str("DEPLOYMENT_REGION", "region1")

# --- Auth, DRF, OpenAPI, /metrics token: tier0site/settings/api_auth.py -----------
from tier0site.settings.api_auth import *  # noqa: E402, F403

# --- Static -----------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging: one JSON object per line ---------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "tier0site.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Django's own default handler (DEBUG) would print plain-text lines beside ours.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # pika warns on every channel the broker closes, e.g. the health check's passive declare of a
        # queue nobody made yet (404); our consumers log their own channel errors.
        "pika.channel": {"level": "ERROR"},
        # Access lines follow ACCESS_LOG, not LOG_LEVEL.
        "tier0.access": {"level": "INFO"},
    },
}
# Workers' own Prometheus ports (--metrics-port) listen here; 0.0.0.0 only inside a private network
# (docker-compose), so Prometheus can reach them: deploy/prometheus/prometheus.yml.
METRICS_ADDR = env.str("METRICS_ADDR", "127.0.0.1")
# Python warnings (e.g. a missing static folder) go through logging too: JSON, not raw stderr lines.
logging.captureWarnings(True)
# JSON access lines from the application (tier0site/access_log.py); web servers run with theirs off.
ACCESS_LOG = env.bool("ACCESS_LOG", True)

# --- Health (/api/health) -------------------------------------------------------
HEALTH_TIMEOUT_S = env.float("HEALTH_TIMEOUT_S", 1.0)  # per broker probe
# Must be running (their heartbeats, tier0site.workers): the Procfile's workers.
HEALTH_WORKERS = env.list("HEALTH_WORKERS", default=["mqtt_consumer", "rabbitmq_consumer", "sweeper"])
HEALTH_MAX_BACKLOG = env.int("HEALTH_MAX_BACKLOG", 20000)  # received, not stored, per worker
HEALTH_MAX_QUEUE_DEPTH = env.int("HEALTH_MAX_QUEUE_DEPTH", 50000)  # messages waiting in the sessions queue
HEALTH_MAX_STORE_AGE_S = env.float("HEALTH_MAX_STORE_AGE_S", 60.0)  # nothing stored this long with a backlog

# --- Dashboard ----------------------------------------------------------------
# The dashboard's JS/CSS and the vendored Chart.js are served by the ASGI app
# itself through WhiteNoise (no CDN, no extra web server: machines may be offline).
# https://whitenoise.readthedocs.io/en/stable/django.html
MIDDLEWARE.insert(
    MIDDLEWARE.index("django_prometheus.middleware.PrometheusAfterMiddleware"), "whitenoise.middleware.WhiteNoiseMiddleware"
)
WHITENOISE_ROOT = BASE_DIR / "tier0site" / "public"  # /favicon.ico, which browsers ask each page's host for
# The groups and events the dashboard's websocket relays are listed in tier0site/live.py.
# How often an open websocket re-checks its sign-in (dashboard/ws_auth.py; at most 60 s).
WS_AUTH_RECHECK_S = env.float("WS_AUTH_RECHECK_S", 30.0)
# Regions the "Simulate Failover" panel can switch between.
DASHBOARD_REGIONS = env.list("DASHBOARD_REGIONS", default=["region1", "region2"])

# --- Sessions -------------------------------------------------------------------
# User-activity pipeline over RabbitMQ (sessions_app): queue, consumer batching,
# the wireframe's Redis key and live updates. https://www.rabbitmq.com/docs/dlx
SESSIONS_QUEUE = env.str("SESSIONS_QUEUE", "user_activity_queue")
SESSIONS_PREFETCH = env.int("SESSIONS_PREFETCH", 4000)  # 2 batches: the next one arrives during a commit
SESSIONS_BATCH_SIZE = env.int("SESSIONS_BATCH_SIZE", 2000)
SESSIONS_FLUSH_INTERVAL_S = env.float("SESSIONS_FLUSH_INTERVAL_S", 0.0)  # how long a partial batch may wait
SESSIONS_SRE_USER_KEY = env.str("SESSIONS_SRE_USER_KEY", "SRE_User")
SESSIONS_SUMMARY_MAX_USERS = env.int("SESSIONS_SUMMARY_MAX_USERS", 1000)
# Under a flood SRE_User refreshes are coalesced to one per this many seconds.
SESSIONS_SUMMARY_MIN_INTERVAL_S = env.float("SESSIONS_SUMMARY_MIN_INTERVAL_S", 1.0)
SESSIONS_LIVE_INTERVAL_S = env.float("SESSIONS_LIVE_INTERVAL_S", 1.0)  # 0 turns live updates off
SESSIONS_IDLE_AFTER_S = env.int("SESSIONS_IDLE_AFTER_S", 300)
SESSIONS_SWEEP_INTERVAL_S = env.float("SESSIONS_SWEEP_INTERVAL_S", 30.0)
SESSIONS_CONSUMER_METRICS_PORT = env.int("SESSIONS_CONSUMER_METRICS_PORT", 9102)


# --- RAG ---------------------------------------------------------------------
# https://docs.cohere.com/reference/chat (v2); COHERE_API_KEY/COHERE_BASE_URL are above.
# Without a key every answer is offline (extractive, with citations).
COHERE_CHAT_MODEL = env.str("COHERE_CHAT_MODEL", "command-a-03-2025")
COHERE_EMBED_MODEL = env.str("COHERE_EMBED_MODEL", "embed-v4.0")
COHERE_VISION_MODEL = env.str("COHERE_VISION_MODEL", "command-a-vision-07-2025")
COHERE_TIMEOUT_S = env.float("COHERE_TIMEOUT_S", 10.0)
COHERE_MAX_RETRIES = env.int("COHERE_MAX_RETRIES", 2)
RAG_MAX_QUESTION_CHARS = env.int("RAG_MAX_QUESTION_CHARS", 1000)

# --- Imaging -------------------------------------------------------------------
# Store: "auto" uses MongoDB (tier0_images.images) when MONGODB_URI is set, else PostgreSQL.
IMAGES_STORE = env.str("IMAGES_STORE", "auto")  # auto | postgres | mongodb
IMAGES_MONGO_DB = env.str("IMAGES_MONGO_DB", "tier0_images")
# Provider: "auto" uses Cohere when COHERE_API_KEY is set, else the offline analyser.
IMAGES_PROVIDER = env.str("IMAGES_PROVIDER", "auto")  # auto | offline | cohere
# Offline analyser: offline-nn (SSD person detector + BlazePose, bundled models) or offline-cv (classic OpenCV).
IMAGES_OFFLINE_ANALYSER = env.str("IMAGES_OFFLINE_ANALYSER", "offline-nn")
COHERE_IMAGE_EMBED_MODEL = env.str("COHERE_IMAGE_EMBED_MODEL", "embed-v4.0")
IMAGES_ROOT = env.str("IMAGES_ROOT", str(SEED_DATA_DIR / "images"))
IMAGES_WATCH_INTERVAL_S = env.float("IMAGES_WATCH_INTERVAL_S", 5.0)
# Threads analysing images during a scan (the models release the GIL): one per core unless set.
IMAGES_SCAN_WORKERS = env.int("IMAGES_SCAN_WORKERS", os.cpu_count() or 1)
# Largest image decoded (PIL's MAX_IMAGE_PIXELS): 50 megapixels; bigger files are reported and skipped as bombs.
IMAGES_MAX_PIXELS = env.int("IMAGES_MAX_PIXELS", 50_000_000)
# Model files of the neural analyser (fetched by scripts/fetch_models.py; outside the repository).
IMAGES_MODELS_DIR = env.str(
    "IMAGES_MODELS_DIR", str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tier0" / "models")
)

# --- Failover / HA ---------------------------------------------------------------
# Off unless HA_DATABASE_HOSTS / REDIS_SENTINELS are set (``manage.py ha_up`` prints
# them): without them the single local PostgreSQL and Redis above stay as they are.
# https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-MULTIPLE-HOSTS
# https://github.com/jazzband/django-redis#use-the-sentinel-connection-factory
HA_DATA_DIR = env.str("HA_DATA_DIR", str(BASE_DIR / ".run" / "ha"))
HA_DATABASE_HOSTS = env.list("HA_DATABASE_HOSTS", default=[])  # "127.0.0.1:15432,127.0.0.1:15433"
HA_SYNCHRONOUS_COMMIT = env.str("HA_SYNCHRONOUS_COMMIT", "remote_apply")
REDIS_SENTINELS = env.list("REDIS_SENTINELS", default=[])  # "127.0.0.1:26379,..."
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", "tier0")
FAILOVER_MAX_LAG_BYTES = env.int("FAILOVER_MAX_LAG_BYTES", 16 * 1024 * 1024)
FAILOVER_REPLAY_TIMEOUT_S = env.float("FAILOVER_REPLAY_TIMEOUT_S", 10.0)
FAILOVER_WATCH_INTERVAL_S = env.float("FAILOVER_WATCH_INTERVAL_S", 0.5)
FAILOVER_WATCH_FAILURES = env.int("FAILOVER_WATCH_FAILURES", 3)
FAILOVER_REBUILD_AFTER = env.bool("FAILOVER_REBUILD_AFTER", True)  # API: old primary becomes the new replica
# /api/failover/status answers within this many seconds; nodes that did not answer say so.
FAILOVER_STATUS_DEADLINE_S = env.float("FAILOVER_STATUS_DEADLINE_S", 0.8)

if HA_DATABASE_HOSTS:
    _ha_hosts = [h.rsplit(":", 1) for h in HA_DATABASE_HOSTS]
    _ha_db = {
        **DATABASES["default"],
        "HOST": ",".join(h for h, _ in _ha_hosts),
        "PORT": ",".join(p for _, p in _ha_hosts),
        # libpq tries each host in turn and keeps the one that takes writes.
        "OPTIONS": {**DATABASES["default"].get("OPTIONS", {}), "target_session_attrs": "read-write"},
    }
    DATABASES["default"] = _ha_db
    DATABASES["replica"] = {
        **_ha_db,
        "OPTIONS": {**_ha_db["OPTIONS"], "target_session_attrs": "prefer-standby"},
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_ROUTERS = ["tier0site.routers.PrimaryReplicaRouter"]
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware"), "tier0site.routers.ReadYourWritesMiddleware"
    )

if REDIS_SENTINELS:
    _sentinels = [(h, int(p)) for h, p in (s.rsplit(":", 1) for s in REDIS_SENTINELS)]
    _redis_auth = f":{REDIS_PASSWORD}@" if REDIS_PASSWORD else ""
    CACHES["default"]["LOCATION"] = f"redis://{_redis_auth}{REDIS_SENTINEL_MASTER}/0"
    CACHES["default"]["OPTIONS"].update(
        {
            # Reads and writes on the master: SentinelClient would read from a replica, and a
            # value written a moment ago (or during a master switch) would read stale.
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            # Named by path: settings import no app code. Its connections follow a master change.
            "CONNECTION_FACTORY": "failover.redis_client.SentinelFollowingConnectionFactory",
            "CONNECTION_POOL_CLASS": "redis.sentinel.SentinelConnectionPool",
            "SENTINELS": _sentinels,
            "SENTINEL_KWARGS": {"socket_timeout": 1},
        }
    )
    # A master change pauses websocket receives instead of killing them (one log line).
    CHANNEL_LAYERS["default"]["BACKEND"] = "failover.channel_layer.SentinelChannelLayer"
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [
        {
            "sentinels": _sentinels,
            "master_name": REDIS_SENTINEL_MASTER,
            "sentinel_kwargs": {"socket_timeout": 1},
            "db": 0,
            "socket_timeout": 15,
            **({"password": REDIS_PASSWORD} if REDIS_PASSWORD else {}),
        }
    ]
