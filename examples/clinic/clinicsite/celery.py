"""The Celery application of the clinic site: configured from Django's
settings (CELERY_* names), tasks discovered in every installed app."""
import os

from celery import Celery

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'clinicsite.settings')

app = Celery('clinicsite')
app.config_from_object('django.conf:settings', namespace='CELERY')
app.autodiscover_tasks()
