"""WSGI entry point of the clinic site."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'clinicsite.settings')

application = get_wsgi_application()
