"""Settings of the rota example application, all taken from the
environment:

DATABASE_URL           postgres://user:password@host:port/dbname (required)
REDIS_URL              the django-redis cache, db number in the URL
                       (default redis://127.0.0.1:6379/2)
CELERY_BROKER_URL      the Celery broker (Redis); default: REDIS_URL's server, db 3
CELERY_RESULT_BACKEND  task results; default: REDIS_URL's server, db 4
ROTA_WORKED_RULE       'done-or-verified' (the business rule) or
                       'not-called-off' (the misreading the business-rule
                       fault ships)
"""
import os
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


def database_from_url(url):
    """Django's DATABASES['default'] for a postgres:// URL. Query parameters
    become connection options (sslmode=...); ?host=/path selects a unix
    socket directory."""
    parts = urlsplit(url)
    if parts.scheme not in ('postgres', 'postgresql', 'pgsql'):
        raise ImproperlyConfigured(
            f'DATABASE_URL must be a postgres:// URL, not {parts.scheme}://...')
    options = dict(parse_qsl(parts.query))
    return {
        'ENGINE': 'django.db.backends.postgresql',
        'NAME': unquote(parts.path.lstrip('/')),
        'USER': unquote(parts.username or ''),
        'PASSWORD': unquote(parts.password or ''),
        'HOST': options.pop('host', parts.hostname or ''),
        'PORT': str(parts.port or ''),
        'OPTIONS': options,
    }


def required(name, example):
    value = os.environ.get(name)
    if not value:
        raise ImproperlyConfigured(f'{name} is not set; for example {name}={example}')
    return value


def redis_db(url, db):
    """url on the same Redis server, database db."""
    return urlsplit(url)._replace(path=f'/{db}').geturl()


BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SECRET_KEY = os.environ.get('DJANGO_SECRET_KEY', 'rota-example-not-secret')
DEBUG = os.environ.get('DJANGO_DEBUG') == '1'
ALLOWED_HOSTS = ['*']

INSTALLED_APPS = [
    'django.contrib.contenttypes',
    'django.contrib.auth',
    'simple_history',
    'staff',
    'rostering',
    'ledger',
]

MIDDLEWARE = [
    'django.middleware.common.CommonMiddleware',
]

ROOT_URLCONF = 'rotasite.urls'
WSGI_APPLICATION = 'rotasite.wsgi.application'

DATABASES = {
    'default': database_from_url(
        required('DATABASE_URL', 'postgres://rota:secret@127.0.0.1:5432/rota')),
}
DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'

REDIS_URL = os.environ.get('REDIS_URL', 'redis://127.0.0.1:6379/2')
CACHES = {
    'default': {
        'BACKEND': 'django_redis.cache.RedisCache',
        'LOCATION': REDIS_URL,
        # Stored keys read 'rota:2:tally/2025-01-01/2025-01-31/member-7'.
        'KEY_PREFIX': 'rota',
        'VERSION': 2,
        'OPTIONS': {'CLIENT_CLASS': 'django_redis.client.DefaultClient'},
    },
}

# The cache, the broker and the results each have their own Redis database:
# FLUSHDB of the cache leaves queued jobs and their results alone.
CELERY_BROKER_URL = os.environ.get('CELERY_BROKER_URL') or redis_db(REDIS_URL, 3)
CELERY_RESULT_BACKEND = os.environ.get('CELERY_RESULT_BACKEND') or redis_db(REDIS_URL, 4)
CELERY_TASK_DEFAULT_QUEUE = 'rota'
CELERY_TASK_SERIALIZER = 'json'
CELERY_RESULT_SERIALIZER = 'json'
CELERY_ACCEPT_CONTENT = ['json']
CELERY_TIMEZONE = 'UTC'

ROTA_WORKED_RULE = os.environ.get('ROTA_WORKED_RULE', 'done-or-verified')

LANGUAGE_CODE = 'en-us'
TIME_ZONE = 'UTC'
USE_I18N = False
USE_TZ = True

LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {'console': {'class': 'logging.StreamHandler'}},
    'root': {'handlers': ['console'], 'level': os.environ.get('ROTA_LOG_LEVEL', 'WARNING')},
}
