"""The Celery application of the rota site: configured from Django's
settings (CELERY_* names); tasks live in each app's `jobs` module, not
`tasks`."""
import os

from celery import Celery

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'rotasite.settings')

app = Celery('rotasite')
app.config_from_object('django.conf:settings', namespace='CELERY')
app.autodiscover_tasks(related_name='jobs')
