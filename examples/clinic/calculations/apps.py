from django.apps import AppConfig


class CalculationsConfig(AppConfig):
    name = 'calculations'
    verbose_name = 'Calculations: worked shifts, deficiency, stored summaries'
