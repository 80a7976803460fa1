#!/usr/bin/env python3
"""Django's command-line utility for the rota example application."""
import os
import sys


def main():
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'rotasite.settings')
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. On Debian 12 install python3-django, "
            "python3-celery, python3-django-redis, python3-django-simple-history "
            "and python3-psycopg2, and run this with /usr/bin/python3."
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == '__main__':
    main()
