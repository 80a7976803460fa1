from django.apps import AppConfig


class ConfigConfig(AppConfig):
    name = 'config'
    verbose_name = 'Clinic configuration: clinicians, shifts, audit log'

    def ready(self):
        # Connects the audit-log signal handlers.
        from . import signals  # noqa: F401
