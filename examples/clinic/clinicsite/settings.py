"""Settings of the clinic example application, all taken from the
environment so the same code runs on a laptop, in the test sandbox and in a
drill:

DATABASE_URL           postgres://user:password@host:port/dbname (required)
REDIS_URL              the django-redis cache, db number in the URL
CELERY_BROKER_URL      the Celery broker (Redis); default: REDIS_URL's server, db 0
CELERY_RESULT_BACKEND  default: the broker
CLINIC_WORKED_SHIFT_RULE  'completed' (the business rule) or 'not-cancelled'
                       (the misunderstanding the business-rule fault ships)
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


BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SECRET_KEY = os.environ.get('DJANGO_SECRET_KEY', 'clinic-example-not-secret')
DEBUG = os.environ.get('DJANGO_DEBUG') == '1'
ALLOWED_HOSTS = ['*']

INSTALLED_APPS = [
    'config',
    'calculations',
]

MIDDLEWARE = [
    'django.middleware.common.CommonMiddleware',
]

ROOT_URLCONF = 'clinicsite.urls'
WSGI_APPLICATION = 'clinicsite.wsgi.application'

DATABASES = {
    'default': database_from_url(
        required('DATABASE_URL', 'postgres://clinic:secret@127.0.0.1:5432/clinic')),
}
DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'

REDIS_URL = os.environ.get('REDIS_URL', 'redis://127.0.0.1:6379/1')
CACHES = {
    'default': {
        'BACKEND': 'django_redis.cache.RedisCache',
        'LOCATION': REDIS_URL,
        'KEY_PREFIX': '',
        'VERSION': 1,
        'OPTIONS': {'CLIENT_CLASS': 'django_redis.client.DefaultClient'},
    },
}


def _db0(url):
    parts = urlsplit(url)
    return parts._replace(path='/0').geturl()


CELERY_BROKER_URL = os.environ.get('CELERY_BROKER_URL') or _db0(REDIS_URL)
CELERY_RESULT_BACKEND = os.environ.get('CELERY_RESULT_BACKEND') or CELERY_BROKER_URL
CELERY_TASK_SERIALIZER = 'json'
CELERY_RESULT_SERIALIZER = 'json'
CELERY_ACCEPT_CONTENT = ['json']
CELERY_TIMEZONE = 'UTC'

WORKED_SHIFT_RULE = os.environ.get('CLINIC_WORKED_SHIFT_RULE', 'completed')

LANGUAGE_CODE = 'en-us'
TIME_ZONE = 'UTC'
USE_I18N = False
USE_TZ = True

LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {'console': {'class': 'logging.StreamHandler'}},
    'root': {'handlers': ['console'], 'level': os.environ.get('CLINIC_LOG_LEVEL', 'WARNING')},
}
